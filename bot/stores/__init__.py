"""Storage: the conversation (tracker) store and, later, tickets and orders."""
