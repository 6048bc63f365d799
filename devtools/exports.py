"""`make exports`: the export worker against the database `make run` uses.

DATABASE_URL (environment or .env) when set; otherwise the local cluster in .data/pg, started
if it is not running yet (and then stopped again on exit). Migrates, then runs
`python -m app.cli export-worker` until Ctrl+C / SIGTERM, which is passed on to the worker
once so it hands back the job under way.
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

PREFIX = "[make exports] "


def _worker(env: dict[str, str]) -> int:
    argv = [sys.executable, "-m", "app.cli", "export-worker"]
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


def main() -> int:
    # Until the worker runs, SIGTERM unwinds like Ctrl+C so that `finally` stops the database.
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    env = development_env()
    pg: LocalPostgres | None = None
    try:
        db_url = env.get("DATABASE_URL") or _database_url_from_dotenv()
        if db_url:
            _say(f"using DATABASE_URL {redact(db_url)}", PREFIX)
        else:
            pg = LocalPostgres(REPO / ".data" / "pg")
            db_url = pg.start()
            env["DATABASE_URL"] = db_url
            _say(f"local PostgreSQL: {db_url}", PREFIX)
        migrate = [sys.executable, "-m", "app.cli", "migrate"]
        if subprocess.run(migrate, env=env, cwd=REPO, check=False).returncode != 0:
            _say("`python -m app.cli migrate` failed", PREFIX)
            return 1
        _say("running export jobs; stop with Ctrl+C", PREFIX)
        return _worker(env)
    except KeyboardInterrupt:
        return 130
    except LocalPostgresError as exc:
        _say(f"local PostgreSQL: {exc}", PREFIX)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if pg is not None and pg.started:
            _say("stopping local PostgreSQL", PREFIX)
            pg.stop()


if __name__ == "__main__":
    sys.exit(main())
