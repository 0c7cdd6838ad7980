"""Protecting users and the service: secrets users type, limits on what one sender sends."""
