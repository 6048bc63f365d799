"""org unit domain."""
