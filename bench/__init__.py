"""Benchmark tooling: a synthetic province (`python -m bench.generate`) and load scripts.

Benchmarks run against development databases (the data key of `make run` unless APP_DATA_KEY is
set): development unless the caller chose another environment. The service's own default,
production, refuses the published development keys."""

import os

os.environ.setdefault("APP_ENV", "development")
