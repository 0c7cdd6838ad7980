"""Offline measurements of the bot: NLU quality (``make eval``)."""
