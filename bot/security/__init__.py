"""Protecting users: secrets users type.

The per-sender rate limit is applied by bot/channels/guard.py and counted in
bot/stores/shared_state.py (across instances in the production profile).
"""
