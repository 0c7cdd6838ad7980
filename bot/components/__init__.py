"""Custom Rasa graph components (listed by module path in config.yml)."""
