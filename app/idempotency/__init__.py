"""Safe retries: the Idempotency-Key header on POST requests."""
