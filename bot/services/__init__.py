"""Business logic the action server calls; no Rasa SDK types in here."""
