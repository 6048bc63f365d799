"""The change feed for the provincial HR system: a transactional outbox read by cursor."""
