"""enrollment domain."""
