"""cadre domain."""
