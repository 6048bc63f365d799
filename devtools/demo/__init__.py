"""The demo data set of `make run` (development only; not part of the product or its wheel)."""
