"""An export job of a whole province: the export worker's throughput and its memory.

    python -m bench.exports --database-url URL [--year 2025] [--format csv|xlsx]
    python -m bench.exports [--scale 0.25]     # own throw-away PostgreSQL, generated first

The database holds a generated province (`python -m bench.generate`). One job for the root
unit's year archive is queued, and a real `python -m app.cli export-worker` runs it. Reported:
rows, file size, rows/s (the job's own start to finish), and the worker's resident memory: idle
before the job, sampled while it runs (by progress), and its peak (`VmHWM`). Constant memory
means the peak stays near the idle figure whatever the number of rows. The stored file's SHA-256
is checked against the job's.

Without `--database-url` a throw-away PostgreSQL is started (devtools/localpg.py), migrated and
filled by `bench.generate --scale` first.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.archive.formats import UnitExportFormat
from app.enums import Role
from app.export.models import ExportChunk, ExportJob, ExportStatus
from bench.province import REPO, async_url, development_env, province
from bench.table import Figure


def _memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


async def _queue_job(engine: AsyncEngine, year: int, format: UnitExportFormat) -> uuid.UUID:
    async with engine.begin() as conn:
        root_id, root_name = (
            await conn.execute(text("SELECT id, name FROM org_unit WHERE depth = 0 LIMIT 1"))
        ).one()
        user_id = uuid.uuid4()
        await conn.execute(
            text(
                "INSERT INTO app_user (id, version, username, password_hash, role, active, "
                "failed_logins, token_version) VALUES (:id, 1, :name, '!', :role, true, 0, 0)"
            ),
            {"id": user_id, "name": f"bench-exports-{user_id.hex[:8]}", "role": Role.admin.value},
        )
        job_id = uuid.uuid4()
        await conn.execute(
            ExportJob.__table__.insert().values(  # type: ignore[attr-defined]
                id=job_id,
                requested_by=user_id,
                org_unit_id=root_id,
                year=year,
                format=format,
                status=ExportStatus.queued,
                filename=f"培训档案-{root_name}-{year}.{format.value}",
                rows_done=0,
                attempts=0,
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
    return job_id


async def _job(engine: AsyncEngine, job_id: uuid.UUID) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(ExportJob.__table__).where(ExportJob.id == job_id))).one()


async def _stored_sha256(engine: AsyncEngine, job_id: uuid.UUID) -> str:
    digest = hashlib.sha256()
    async with engine.connect() as conn:
        seqs = list(
            await conn.scalars(
                select(ExportChunk.seq)
                .where(ExportChunk.export_job_id == job_id)
                .order_by(ExportChunk.seq)
            )
        )
        for seq in seqs:
            data = await conn.scalar(
                select(ExportChunk.data).where(
                    ExportChunk.export_job_id == job_id, ExportChunk.seq == seq
                )
            )
            digest.update(data or b"")
    return digest.hexdigest()


@dataclass(frozen=True)
class ExportRun:
    job_id: uuid.UUID
    format: UnitExportFormat
    year: int
    rows: int
    size_bytes: int
    sha256: str
    stored_matches: bool
    seconds: float
    idle_kib: int
    peak_kib: int
    rss_at: dict[float, int]  # share of rows done → RSS KiB


async def run(database_url: str, year: int, format: UnitExportFormat) -> ExportRun:
    engine = create_async_engine(async_url(database_url))
    env = {**development_env(database_url), "APP_EXPORTS__POLL_INTERVAL_SECONDS": "0.2"}
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "export-worker", cwd=REPO, env=env
    )
    try:
        await asyncio.sleep(3)  # started, connected, idle
        idle = _memory_kib(worker.pid)
        job_id = await _queue_job(engine, year, format)
        samples: list[tuple[int, int, int]] = []  # (rows done, rows total, RSS KiB)
        while True:
            job = await _job(engine, job_id)
            if worker.returncode is not None:
                raise SystemExit(f"the worker exited ({worker.returncode})")
            samples.append((job.rows_done, job.rows_total or 0, _memory_kib(worker.pid)["VmRSS"]))
            if job.status in (ExportStatus.succeeded, ExportStatus.failed):
                break
            await asyncio.sleep(0.5)
        peak = _memory_kib(worker.pid)["VmHWM"]
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 30)
    if job.status != ExportStatus.succeeded:
        raise SystemExit(f"the job failed: {job.error_code}")
    stored = await _stored_sha256(engine, job_id)
    await engine.dispose()
    rss_at: dict[float, int] = {}
    for share in (0.1, 0.25, 0.5, 0.75, 0.9):
        at = next((rss for done, total, rss in samples if total and done >= share * total), None)
        if at is not None:
            rss_at[share] = at
    return ExportRun(
        job_id=job_id,
        format=format,
        year=year,
        rows=job.rows_total,
        size_bytes=job.size_bytes,
        sha256=job.sha256,
        stored_matches=stored == job.sha256,
        seconds=(job.finished_at - job.started_at).total_seconds(),
        idle_kib=idle["VmRSS"],
        peak_kib=peak,
        rss_at=rss_at,
    )


def report(result: ExportRun) -> None:
    print(f"export job {result.job_id} ({result.format.value}, year {result.year}, the root unit)")
    print(f"  rows                 {result.rows:,}")
    print(f"  file                 {result.size_bytes / 1e6:,.1f} MB, sha256 {result.sha256}")
    print(f"  stored file's sha256 {'matches' if result.stored_matches else 'DIFFERS'}")
    print(f"  time                 {result.seconds:,.1f} s (job start to finish)")
    print(f"  throughput           {result.rows / result.seconds:,.0f} rows/s")
    print(f"  worker RSS idle      {result.idle_kib / 1024:,.1f} MiB")
    for share, rss in result.rss_at.items():
        print(f"  worker RSS at {share:>4.0%}   {rss / 1024:,.1f} MiB")
    print(f"  worker RSS peak      {result.peak_kib / 1024:,.1f} MiB (VmHWM)")


RSS_BOUND_MB = 200  # issue 16: a province's year in constant memory, under 200 MB resident


def measure(
    database_url: str, *, year: int = 2025, format: UnitExportFormat = UnitExportFormat.csv
) -> list[Figure]:
    """The export worker's peak resident memory while it writes a province's year, against the
    absolute bound; the idle worker's beside it (constant memory: the peak stays near it)."""
    result = asyncio.run(run(database_url, year, format))
    if not result.stored_matches:
        raise SystemExit("the stored export's sha256 differs from the job's")
    return [
        Figure(
            what=f"export of the province's {year} ({format.value}), worker peak RSS",
            value=result.peak_kib / 1024,
            unit="MiB",
            target=RSS_BOUND_MB,
            direction="lower",
            detail=(
                f"{result.rows:,} rows in {result.seconds:,.0f} s; "
                f"idle {result.idle_kib / 1024:,.0f} MiB"
            ),
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--format", type=UnitExportFormat, default=UnitExportFormat.csv)
    parser.add_argument("--scale", default="0.25", help="without --database-url: bench.generate")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="without --database-url: keep the generated cluster here (reused when it has data)",
    )
    args = parser.parse_args()
    with province(args.database_url, scale=args.scale, data_dir=args.data_dir) as url:
        report(asyncio.run(run(url, args.year, args.format)))


if __name__ == "__main__":
    main()
