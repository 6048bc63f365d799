"""training session domain."""
