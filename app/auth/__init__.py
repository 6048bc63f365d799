"""Authentication: tokens, passwords, rate limits."""
