"""study log domain."""
