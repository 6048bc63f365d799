"""The cadre reads through pgbouncer in transaction mode (issue 16, "the path past one machine").

Starts Debian's pgbouncer (devtools/pgbouncer.py, `pool_mode = transaction`, as many server
connections as the service's pool and overflow, 10 + 10) in front of `--database-url`, and runs
bench.http_reads with the service connecting through it (`APP_DATABASE__PGBOUNCER=true`); the
yardstick, a bare FastAPI + asyncpg primary-key read, connects directly, in the same run.
Compare with bench.http_reads' own figures (the service connecting directly) in the same
`make bench` table.

    python -m bench.pgbouncer --database-url postgresql://postgres@127.0.0.1:56100/bench_me \
        [--duration 15] [--connections 32] [--threads 2] [--pool-size 20]

Figures only: this is not a test and asserts nothing.
"""

import argparse
import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager

from bench import http_reads
from bench.table import Figure, render
from devtools.pgbouncer import pgbouncer

PGBOUNCER_FLAG = "APP_DATABASE__PGBOUNCER"


@contextmanager
def _flag() -> Iterator[None]:
    """The service started by bench.http_reads inherits the environment."""
    previous = os.environ.get(PGBOUNCER_FLAG)
    os.environ[PGBOUNCER_FLAG] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PGBOUNCER_FLAG, None)
        else:
            os.environ[PGBOUNCER_FLAG] = previous


def measure(
    database_url: str,
    *,
    duration: int = 15,
    connections: int = 32,
    threads: int = 2,
    pool_size: int = 20,
) -> list[Figure]:
    """The two cadre reads with the service behind pgbouncer, beside the yardstick."""
    with pgbouncer(database_url, pool_size=pool_size) as pooled, _flag():
        figures = http_reads.measure(
            database_url,
            duration=duration,
            connections=connections,
            threads=threads,
            service_database_url=pooled,
        )
    # The yardstick is http_reads' own row; only the service's reads went through pgbouncer.
    return [
        dataclasses.replace(f, what=f"{f.what} through pgbouncer", target=None, before="")
        for f in figures
        if f.yardstick is not None
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pool-size", type=int, default=20)
    args = parser.parse_args()
    figures = measure(
        args.database_url,
        duration=args.duration,
        connections=args.connections,
        threads=args.threads,
        pool_size=args.pool_size,
    )
    print(render(figures))


if __name__ == "__main__":
    main()
