"""Safe retries: the Idempotency-Key header on POST requests.

No router and no schemas of its own: the HTTP mechanism is a route class (`route.py`) that the
domains' routers use; `repository.py` holds its queries, `service.py` the pruning the CLI runs."""
