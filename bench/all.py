"""`make bench`: issue 16's table — every figure beside a yardstick measured in the same run.

    python -m bench.all [--database-url URL] [--scale 1.0] [--data-dir .data/bench]
                        [--only reads,pgbouncer,reports,bulk,exports,replica,national]

The province is generated once (about ten minutes at scale 1.0 here) into a kept local cluster
(`--data-dir`, default `.data/bench`) and reused; `--database-url` names a database that holds
one (it is migrated to the head first). Each section measures its figures and the yardstick they
are read against, in this run, on this machine; the table prints the ratio, the issue's target,
the figure issue 16 measured before this round, and whether the target is met.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import bulk, exports, http_reads, national, pgbouncer, replica, reports
from bench.province import REPO, province
from bench.table import Figure, render

Section = Callable[[str, argparse.Namespace], list[Figure]]

SECTIONS: dict[str, Section] = {
    "reads": lambda url, args: http_reads.measure(url, duration=args.duration),
    "pgbouncer": lambda url, args: pgbouncer.measure(url, duration=args.duration),
    "reports": lambda url, args: reports.measure(url),
    "bulk": lambda url, args: bulk.measure(url),
    "exports": lambda url, args: exports.measure(url),
    # These two build their own small clusters (a standby; two provinces and a national one).
    "replica": lambda url, args: replica.measure(),
    "national": lambda url, args: national.measure(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--scale", default=os.environ.get("BENCH_SCALE", "1.0"))
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "bench")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk run")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    figures: list[Figure] = []
    failed: list[str] = []
    with province(args.database_url, scale=args.scale, data_dir=args.data_dir) as url:
        for name in chosen:
            started = time.monotonic()
            print(f"== {name}", flush=True)
            try:
                measured = SECTIONS[name](url, args)
            except Exception:  # a section that fails is reported; the others still measure
                traceback.print_exc()
                failed.append(name)
                continue
            figures.extend(measured)
            print(render(measured), f"\n({time.monotonic() - started:,.0f} s)", flush=True)
    print(f"\n# make bench — scale {args.scale}, {os.cpu_count()} CPUs\n")
    print(render(figures))
    if failed:
        print(f"\nsections that failed: {', '.join(failed)}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
