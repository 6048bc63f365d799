"""Debian's pgbouncer in front of a local PostgreSQL, in transaction mode, for the tests and
the benchmarks (`with pgbouncer(database_url) as pooled_url: ...`).

Its configuration and auth file live in a directory of their own (under /var/tmp, so the
unprivileged OS user can reach it), removed when the pooler stops. pgbouncer refuses to run
as root, so as root it runs as the OS user devtools/localpg.py runs PostgreSQL as. It listens
on 127.0.0.1 only and trusts every client, as the local cluster does: a dev/test tool, never
expose it.

CLI: ``python -m devtools.pgbouncer DATABASE_URL [--pool-size N]`` prints the pooled URL and
runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devtools.localpg import HOST, _free_port, _server_os_user

START_TIMEOUT_S = 15


class PgBouncerError(RuntimeError):
    """pgbouncer is missing or did not start."""


def find_pgbouncer() -> str | None:
    """The pgbouncer binary (Debian installs it in /usr/sbin, not on every PATH), or None."""
    found = shutil.which("pgbouncer")
    if found:
        return found
    debian = Path("/usr/sbin/pgbouncer")
    return str(debian) if os.access(debian, os.X_OK) else None


def _config(*, port: int, server_host: str, server_port: int, pool_size: int, home: Path) -> str:
    return f"""\
; Written by devtools/pgbouncer.py.
[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = {HOST}
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home / "userlist.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
server_reset_query =
logfile = {home / "pgbouncer.log"}
pidfile = {home / "pgbouncer.pid"}
admin_users = postgres
stats_users = postgres
"""


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PgBouncerError(f"pgbouncer exited with {process.returncode}:\n{tail}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise PgBouncerError(f"pgbouncer did not listen on {HOST}:{port}") from None
            time.sleep(0.05)


@contextmanager
def pgbouncer(database_url: str, *, pool_size: int = 4) -> Iterator[str]:
    """Start pgbouncer (transaction mode, `pool_size` server connections per database and
    user) in front of the PostgreSQL `database_url` names; yield the same URL through it."""
    binary = find_pgbouncer()
    if binary is None:
        raise PgBouncerError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    parts = urlsplit(database_url)
    user = parts.username or "postgres"
    home = Path(tempfile.mkdtemp(prefix="cadre-pgbouncer-", dir="/var/tmp"))
    os_user = _server_os_user()
    ids = pwd.getpwnam(os_user) if os_user else None
    try:
        port = _free_port()
        (home / "userlist.txt").write_text(f'"{user}" ""\n')
        ini = home / "pgbouncer.ini"
        ini.write_text(
            _config(
                port=port,
                server_host=parts.hostname or HOST,
                server_port=parts.port or 5432,
                pool_size=pool_size,
                home=home,
            )
        )
        if ids is not None:
            for path in (home, *home.iterdir()):
                os.chown(path, ids.pw_uid, ids.pw_gid)
        process = subprocess.Popen(
            [binary, "-q", str(ini)],
            user=ids.pw_uid if ids else None,
            group=ids.pw_gid if ids else None,
            extra_groups=[] if ids else None,
            cwd="/",
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_listening(process, port, home / "pgbouncer.log")
            netloc = f"{user}@{HOST}:{port}"
            yield urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        finally:
            # A throw-away pooler whose clients are done: SIGKILL (SIGTERM waits for every
            # client from pgbouncer 1.23 on; nothing of it outlives the directory below).
            process.kill()
            process.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.pgbouncer",
        description="Run pgbouncer (transaction mode) in front of a local PostgreSQL.",
    )
    parser.add_argument("database_url")
    parser.add_argument("--pool-size", type=int, default=4)
    args = parser.parse_args(argv)
    try:
        with pgbouncer(args.database_url, pool_size=args.pool_size) as url:
            print(url, flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    except PgBouncerError as exc:
        print(f"pgbouncer: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
