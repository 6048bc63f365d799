"""`make webhooks` / `make exports`: a worker against the database `make run` uses.

`python -m devtools.worker {webhook-worker,export-worker}`. DATABASE_URL (environment or .env)
when set; otherwise the local cluster in .data/pg, started if it is not running yet (and then
stopped again on exit). Migrates, then runs `python -m app.cli <worker>` until Ctrl+C / SIGTERM,
which is passed on to the worker once so it stops within a few seconds, handing its work back
(the webhook worker its subscriptions, the export worker the job under way).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from types import FrameType

from devtools.localpg import LocalPostgres, LocalPostgresError
from devtools.run import (
    REPO,
    _database_url_from_dotenv,
    _say,
    _sigterm_as_interrupt,
    development_env,
    redact,
)

# Each worker: its make target and what it does while it runs.
WORKERS = {
    "webhook-worker": ("webhooks", "delivering webhooks"),
    "export-worker": ("exports", "running export jobs"),
}


def _worker(command: str, env: dict[str, str]) -> int:
    argv = [sys.executable, "-m", "app.cli", command]
    # Own process group: Ctrl+C reaches only this launcher, which passes one signal on.
    proc = subprocess.Popen(argv, env=env, cwd=REPO, start_new_session=True)
    signals: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if not signals and proc.poll() is None:
            proc.send_signal(signum)
        signals.append(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        returncode = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return 0 if signals and returncode == 0 else returncode


def main(command: str) -> int:
    target, doing = WORKERS[command]
    prefix = f"[make {target}] "
    # Until the worker runs, SIGTERM unwinds like Ctrl+C so that `finally` stops the database.
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    env = development_env()
    pg: LocalPostgres | None = None
    try:
        db_url = env.get("DATABASE_URL") or _database_url_from_dotenv()
        if db_url:
            _say(f"using DATABASE_URL {redact(db_url)}", prefix)
        else:
            pg = LocalPostgres(REPO / ".data" / "pg")
            db_url = pg.start()
            env["DATABASE_URL"] = db_url
            _say(f"local PostgreSQL: {db_url}", prefix)
        migrate = [sys.executable, "-m", "app.cli", "migrate"]
        if subprocess.run(migrate, env=env, cwd=REPO, check=False).returncode != 0:
            _say("`python -m app.cli migrate` failed", prefix)
            return 1
        _say(f"{doing}; stop with Ctrl+C", prefix)
        return _worker(command, env)
    except KeyboardInterrupt:
        return 130
    except LocalPostgresError as exc:
        _say(f"local PostgreSQL: {exc}", prefix)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if pg is not None and pg.started:
            _say("stopping local PostgreSQL", prefix)
            pg.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in WORKERS:
        sys.exit(f"usage: python -m devtools.worker {{{','.join(WORKERS)}}}")
    sys.exit(main(sys.argv[1]))
