"""Rasa SDK action server. Actions stay thin: the logic lives in bot.services."""
