"""Users and machine clients."""
