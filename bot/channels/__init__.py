"""Input channels of our own: WeChat Official Account, socket.io with working persistence."""
