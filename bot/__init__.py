"""Chinese customer-service triage bot: our Rasa components, services and data."""
