"""Optional push of the change feed: signed webhooks, delivered from the outbox by a worker."""
