"""Local PostgreSQL clusters for `make run` (persistent) and the tests (ephemeral).

Standard library only: the Makefile runs this module with the machine's python3
before the virtualenv exists (`clean-data`, and the check that decides whether
the `localpg` extra is needed).

Server binaries, first found wins:

1. ``pg_config --bindir`` (if it holds initdb, pg_ctl and postgres; Debian's
   libpq-dev ships a pg_config without the server),
2. ``/usr/lib/postgresql/<highest version>/bin``,
3. ``initdb`` on PATH (symlinks resolved, so pg_ctl/postgres are found beside it),
4. the binaries bundled in the pip package ``pgserver`` (optional extra
   ``localpg``; ``.tools/bin/uv sync --frozen --extra localpg``). Only its
   binaries are borrowed: its own server manager listens on a Unix socket only,
   and as root it chmods every parent folder of the data dir and creates its
   own OS user, none of which we want. ``LOCALPG_FORCE_PGSERVER=1`` skips steps
   1-3, to test this path on a machine that has PostgreSQL installed.

The cluster listens on 127.0.0.1 only, with no Unix socket (so no socket-dir
permission problems), and trusts every loopback connection: it is a dev/test
cluster, never expose it. PostgreSQL refuses to run as root, so as root the
server tools run as the OS user ``postgres`` via ``runuser``; when that user
cannot reach the requested data dir (e.g. a checkout under /root) the cluster
lives in /var/tmp/cadre-training-<hash of the path> instead (an ephemeral one in
/var/tmp/cadre-training-ephemeral-<hash>, whose leftovers of killed runs the next
ephemeral start removes once their postmaster is gone); parent folders are
never chmodded (pgserver's binaries get the same treatment: copied to /var/tmp
when that user cannot reach the venv). Where no ``postgres`` user exists (no
PostgreSQL package installed), the system user ``cadre-pg`` is created for this.

Start times (wall clock of ``start()``, database ``cadre`` included; median of
5, 2-core dev machine; root and non-root alike, system PostgreSQL 15 and the
pgserver 0.1.4 build of PostgreSQL 16.2 alike):

* ephemeral, cold (initdb --no-sync + start): 0.5-0.6 s idle, 1.1-1.5 s while
  the other core is busy (initdb dominates: it is system-call heavy);
* persistent, cold (initdb with sync + start): ~0.75 s idle, 1.0-1.8 s busy;
* persistent, warm (cluster exists, server stopped): 0.12-0.14 s;
* server already running: 0.01-0.02 s;  ``stop()``: ~0.1 s.

CLI: ``python -m devtools.localpg {start,stop,status,url,remove,server-bindir}
--data-dir DIR``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

DB_NAME = "cadre"
# Database superuser created by initdb; unrelated to the OS user below.
DB_USER = "postgres"
HOST = "127.0.0.1"
# OS user that runs the server when we are root. If it does not exist (no
# PostgreSQL package installed, e.g. the pgserver path on a fresh machine) the
# system user FALLBACK_OS_USER is created, so that `make test` needs no manual
# root step there.
OS_USER = "postgres"
FALLBACK_OS_USER = "cadre-pg"
MAX_CONNECTIONS = 200
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60

# Our files inside the data dir (PostgreSQL ignores files it does not know).
PORT_FILE = "localpg.port"
CONF_FILE = "localpg.conf"
LOG_FILE = "localpg.log"

# World-writable: see _safe_shared_dir for why that is safe here.
FALLBACK_ROOT = Path("/var/tmp")  # noqa: S108
FALLBACK_PREFIX = "cadre-training-"
# An ephemeral cluster's fallback dir, and beside it its lock file (`<dir>.lock`), which the
# process that owns the cluster holds locked (flock) until it stops the cluster. The kernel
# drops the lock when that process dies, even by SIGKILL, whose atexit never runs: a dir
# whose lock is free and whose postmaster is gone is a leftover, removed at the next start
# of an ephemeral cluster (remove_stale_ephemeral).
EPHEMERAL_PREFIX = f"{FALLBACK_PREFIX}ephemeral-"
_EPHEMERAL_NAME = re.compile(rf"{re.escape(EPHEMERAL_PREFIX)}[0-9a-f]{{10}}")

_SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")


class LocalPostgresError(RuntimeError):
    """The local cluster could not be created, started or stopped."""


def _note(message: str) -> None:
    with contextlib.suppress(OSError):  # a closed stderr must not stop a stop()
        print(f"localpg: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Finding the server binaries
# --------------------------------------------------------------------------


def _has_server_tools(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in _SERVER_TOOLS)


def _version_key(bindir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); 9.6 -> (9, 6); junk sorts first.
    return tuple(int(p) if p.isdigit() else -1 for p in bindir.parent.name.split("."))


def find_system_bindir() -> Path | None:
    """Bin dir of an installed PostgreSQL server, or None (pgserver not considered)."""
    if os.environ.get("LOCALPG_FORCE_PGSERVER") == "1":
        return None
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_server_tools(Path(out)):
            return Path(out)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key)
    for bindir in reversed(versions):
        if _has_server_tools(bindir):
            return bindir
    initdb = shutil.which("initdb")
    if initdb:
        bindir = Path(initdb).resolve().parent
        if _has_server_tools(bindir):
            return bindir
    return None


def find_pgserver_bindir() -> Path | None:
    """Bin dir of the PostgreSQL build bundled in the `pgserver` wheel, or None."""
    # Located, not imported: importing pgserver pulls in psutil/platformdirs and
    # warns about XDG_RUNTIME_DIR, and all we need is the path that pgserver's
    # own _commands.POSTGRES_BIN_PATH points at.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    return bindir if _has_server_tools(bindir) else None


def _no_binaries_error() -> LocalPostgresError:
    return LocalPostgresError(
        "no PostgreSQL server binaries found (looked at `pg_config --bindir`, "
        "/usr/lib/postgresql/*/bin, initdb on PATH and the pgserver package). "
        "Install PostgreSQL (e.g. `apt-get install postgresql`) or the pip "
        "fallback: `.tools/bin/uv sync --frozen --extra localpg` "
        "(`make venv` does this by itself when it finds no binaries)."
    )


# --------------------------------------------------------------------------
# Root support: run the server tools as an unprivileged OS user
# --------------------------------------------------------------------------


def _server_os_user() -> str | None:
    """Unprivileged OS user to run the server as, or None to run it as ourselves."""
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        raise LocalPostgresError(
            "running as root, and PostgreSQL refuses to run as root; "
            "`runuser` (util-linux) is needed to run it as another user"
        )
    for name in (OS_USER, FALLBACK_OS_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    _note(
        f"running as root and there is no OS user {OS_USER!r} (no PostgreSQL "
        f"package installed); creating system user {FALLBACK_OS_USER!r} to run "
        "PostgreSQL, which refuses to run as root"
    )
    created = subprocess.run(
        [
            *("useradd", "--system", "--user-group", "--no-create-home"),
            *("--shell", "/usr/sbin/nologin", FALLBACK_OS_USER),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if created.returncode != 0:
        raise LocalPostgresError(
            f"PostgreSQL refuses to run as root and neither OS user {OS_USER!r} "
            f"nor {FALLBACK_OS_USER!r} exists; creating {FALLBACK_OS_USER!r} "
            f"failed: {created.stderr.strip()}. Create a `postgres` user or run "
            "as a normal user."
        )
    return FALLBACK_OS_USER


def _user_can_reach(user: str, path: Path) -> bool:
    # `test -x` on a directory needs search permission on it and every parent.
    probe = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-x", str(path)],
        check=False,
        capture_output=True,
        cwd="/",
    )
    return probe.returncode == 0


def _safe_shared_dir(path: Path, allowed_uids: Sequence[int]) -> Path:
    """Create (or accept) a directory under world-writable /var/tmp safely.

    As root we chown what we create there, so refuse a name someone else
    planted first (a symlink or a directory owned by another user).
    """
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    st = path.lstat()
    if path.is_symlink() or not path.is_dir() or st.st_uid not in allowed_uids:
        raise LocalPostgresError(
            f"{path} exists but is not a directory owned by root or the "
            "PostgreSQL user; remove it and try again"
        )
    return path


def _copy_pgserver_for(user: str, bindir: Path) -> Path:
    """Copy pgserver's binaries where `user` can run them; return the new bin dir.

    The wheel lives in the venv, which can sit under a folder the server user
    cannot enter (e.g. /root). The copy keeps the wheel layout because initdb
    finds its libpq through an RPATH of $ORIGIN/../../../pgserver.libs.
    """
    package = bindir.parent.parent  # .../site-packages/pgserver
    libs = package.parent / "pgserver.libs"
    # Keyed on the build too, so that an upgraded wheel gets a fresh copy.
    build = (bindir / "postgres").stat()
    key = f"{package}:{build.st_size}:{build.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    target = FALLBACK_ROOT / f"{FALLBACK_PREFIX}pgserver-{digest}"
    copied_bindir = target / "pgserver" / "pginstall" / "bin"
    if not (target / ".complete").exists():
        _note(f"{user!r} cannot run {bindir}; copying the pgserver build to {target}")
        _safe_shared_dir(target, [0])
        target.chmod(0o755)
        shutil.rmtree(target / "pgserver", ignore_errors=True)
        shutil.rmtree(target / "pgserver.libs", ignore_errors=True)
        shutil.copytree(package / "pginstall", target / "pgserver" / "pginstall")
        if libs.is_dir():
            shutil.copytree(libs, target / "pgserver.libs")
        (target / ".complete").touch()
    return copied_bindir


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option PostgreSQL uses, so TIME_WAIT leftovers of the previous
        # run don't make us abandon the remembered port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def _tool_env() -> dict[str, str]:
    # PG* variables of the caller (PGHOST, PGPORT, PGOPTIONS, ...) must not
    # redirect our tools; the C locale avoids failures on machines whose LANG
    # names a locale that is not generated.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env["PGCONNECT_TIMEOUT"] = "5"
    return env


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no server log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"(server log {path} is empty)"


def _read_postmaster_pid(data_dir: Path) -> tuple[int, int | None] | None:
    """(pid, port) from postmaster.pid, or None if there is no usable file."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    return pid, port


def _lock_path(data_dir: Path) -> Path:
    return data_dir.with_name(f"{data_dir.name}.lock")


def _lock(data_dir: Path, *, wait: bool) -> int | None:
    """The locked descriptor of `data_dir`'s lock file, or None when another process holds
    it (`wait=False`). Retries when the file was replaced while this waited for it."""
    while True:
        fd = os.open(
            _lock_path(data_dir), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(_lock_path(data_dir), follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass  # removed by the one that held it: lock the new one
        os.close(fd)


def _unlock(data_dir: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        _lock_path(data_dir).unlink()
    os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_ephemeral(root: Path = FALLBACK_ROOT, keep: Path | None = None) -> list[Path]:
    """Remove the ephemeral clusters under `root` that nobody owns any more (a test run
    killed before its cleanup): only dirs named as this module names them, whose lock is
    free, and whose postmaster.pid, if any, names no live process (any process at all, so a
    postmaster still running is never touched). Returns what was removed."""
    removed: list[Path] = []
    for path in sorted(root.glob(f"{EPHEMERAL_PREFIX}*")):
        if not _EPHEMERAL_NAME.fullmatch(path.name) or path == keep:
            continue
        if path.is_symlink() or not path.is_dir():
            continue
        fd = _lock(path, wait=False)
        if fd is None:
            continue  # its owner runs
        try:
            found = _read_postmaster_pid(path)
            if found is not None and _pid_alive(found[0]):
                continue
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path)
        finally:
            if path.exists():
                os.close(fd)
            else:
                _unlock(path, fd)
    for path in removed:
        _note(f"removed the stale ephemeral cluster {path}")
    return removed


def _postmaster_alive(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is a live postmaster of `data_dir`.

    After a kill -9 the pid in postmaster.pid can be reused by an unrelated
    process (pids are small and reused quickly in containers), or the old
    postmaster can linger as an unreaped zombie; both fool `pg_ctl status` and
    the server's own lock-file check. The postmaster's working directory is
    its data dir, which tells the real one apart.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else: decided below
    if not Path("/proc/self/cwd").exists():
        return True  # no procfs (macOS): trust the signal check
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        # Gone, a zombie, or another user's process that we may not inspect
        # (ours would be readable: same user, or we are root).
        return False
    return Path(cwd) == data_dir.resolve()


# --------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------


class LocalPostgres:
    """A PostgreSQL cluster in `data_dir`, for development and tests.

    * ``start()`` creates the cluster on first use (initdb), reuses it after,
      starts the server unless it already runs, creates database ``cadre`` if
      missing and returns ``postgresql+asyncpg://postgres@127.0.0.1:PORT/cadre``.
    * ``stop()`` stops the server (``pg_ctl stop -m fast``); an ephemeral
      cluster's data dir is then removed.
    * ``with LocalPostgres(...) as pg:`` starts it and, on exit, stops it if
      this object started it (an already running server is left alone).

    ``port=None`` picks a free port; a persistent cluster remembers it in the
    data dir (localpg.port) so the next start gives the same URL. Ephemeral
    clusters always start empty and run with fsync, synchronous_commit and
    full_page_writes off: fast, and lost on a crash, which tests don't mind.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        ephemeral: bool = False,
        conf: Mapping[str, str] | None = None,
    ) -> None:
        self.requested_dir = Path(data_dir).expanduser().absolute()
        self.ephemeral = ephemeral
        #: postgresql.conf settings over ours (e.g. synchronous_commit = on for an ephemeral
        #: cluster whose acknowledged commits must survive a kill of the server).
        self.conf = dict(conf or {})
        self._requested_port = port
        self._port: int | None = port
        self._bindir: Path | None = None
        self._os_user: str | None = None
        self._data_dir: Path | None = None
        self._resolved = False
        self._atexit_pid: int | None = None
        #: The locked lock file of an ephemeral cluster in FALLBACK_ROOT (see EPHEMERAL_PREFIX).
        self._lock_fd: int | None = None
        #: True once start() launched the server (not when it already ran).
        self.started = False
        #: The cluster this one is a streaming standby of (`standby_of`), else None.
        self.primary: LocalPostgres | None = None

    @classmethod
    def standby_of(
        cls,
        primary: LocalPostgres,
        data_dir: Path,
        port: int | None = None,
        *,
        conf: Mapping[str, str] | None = None,
    ) -> LocalPostgres:
        """An ephemeral hot standby of the running cluster `primary`: ``start()`` copies it with
        ``pg_basebackup -R`` (as the server's OS user; loopback replication connections are
        trusted, as every other) and starts it on its own port, streaming the primary's WAL.
        Hot standby feedback is on, so a read on the standby is not cancelled by the
        primary's vacuum. Test with ``SELECT pg_wal_replay_pause()`` / ``_resume()``."""
        standby = cls(
            data_dir, port, ephemeral=True, conf={"hot_standby_feedback": "on", **(conf or {})}
        )
        standby.primary = primary
        return standby

    # -- public API --------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """Where the cluster really lives (differs from the requested dir in the
        root fallback case)."""
        self._resolve()
        assert self._data_dir is not None
        return self._data_dir

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_FILE

    @property
    def port(self) -> int | None:
        """Port of the running server, else the remembered/requested one."""
        running = _read_postmaster_pid(self.data_dir)
        if running and running[1] and self.is_running():
            return running[1]
        return self._port or self._remembered_port()

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster (no password: loopback is trusted)."""
        port = self.port
        if port is None:
            raise LocalPostgresError(f"cluster in {self.data_dir} was never started: no port known")
        return f"postgresql+asyncpg://{DB_USER}@{HOST}:{port}/{DB_NAME}"

    def is_running(self) -> bool:
        found = _read_postmaster_pid(self.data_dir)
        return found is not None and _postmaster_alive(found[0], self.data_dir)

    def start(self) -> str:
        data = self.data_dir
        self._bin("pg_ctl")  # fail on missing binaries before creating anything
        if self.is_running():
            if not self.ephemeral:
                self._ensure_database()
                return self.url
            self._stop_server()  # a leftover of a killed test run: start afresh
        if self.ephemeral:
            self._claim_fallback_dir(data)
            self._wipe()
        self._prepare_dir(data)
        if not (data / "PG_VERSION").exists():
            if self.primary is not None:
                self._basebackup(self.primary)
            else:
                self._initdb()
        # Set before launching so that an interrupt during the start still
        # leads to a stop of what may already be running.
        self.started = True
        if self.ephemeral and self._atexit_pid is None:
            # Tests that die before their teardown must not leave a server.
            self._atexit_pid = os.getpid()
            atexit.register(self._stop_at_exit)
        try:
            self._start_server()
            self._ensure_database()
        except BaseException:
            if self.ephemeral:
                self.stop()
            raise
        return self.url

    def stop(self) -> None:
        data = self.data_dir
        if self.is_running():
            self._stop_server()
        if self.ephemeral and data.exists():
            shutil.rmtree(data, ignore_errors=True)
        if self._lock_fd is not None and not data.exists():
            _unlock(data, self._lock_fd)
            self._lock_fd = None
        self.started = False

    def _claim_fallback_dir(self, data: Path) -> None:
        """An ephemeral cluster in FALLBACK_ROOT: lock its dir for this process's lifetime
        (before the dir exists), then remove the leftovers of killed runs."""
        if data.parent != FALLBACK_ROOT or self._lock_fd is not None:
            return
        self._lock_fd = _lock(data, wait=True)
        remove_stale_ephemeral(FALLBACK_ROOT, keep=data)

    def remove(self) -> None:
        """Stop the server and delete the cluster (wherever it really lives)."""
        data = self.data_dir
        if self.is_running():
            self._stop_server()
        shutil.rmtree(data, ignore_errors=True)
        self.started = False

    # -- faults, for tests of the service through a restart of its database ---

    def shutdown(self, mode: str = "fast") -> None:
        """Stop the server and keep the cluster (an ephemeral one too): `fast` ends every
        session cleanly, `immediate` does not (crash recovery at the next start). `resume()`
        starts it again."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"unknown shutdown mode {mode!r}")
        argv = [self._bin("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-s"]
        result = self._run([*argv, "-t", str(STOP_TIMEOUT_S)], timeout=STOP_TIMEOUT_S + 30)
        if result.returncode != 0 and self.is_running():
            raise LocalPostgresError(f"pg_ctl stop -m {mode} failed: {result.stderr.strip()}")

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would. Its server processes notice and exit on
        their own; `resume()` then runs crash recovery."""
        found = _read_postmaster_pid(self.data_dir)
        if found is None or not _postmaster_alive(found[0], self.data_dir):
            raise LocalPostgresError(f"no server runs in {self.data_dir}")
        os.kill(found[0], signal.SIGKILL)

    def resume(self) -> str:
        """Start the server after `shutdown()` or `kill()`, on the same port and with the same
        data (also for an ephemeral cluster). After a kill, waits until the old server
        processes have let go of the shared memory."""
        port = self.port
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self._start_server(port=port)
                break
            except LocalPostgresError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.started = True
        self._ensure_database()
        return self.url

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.started:
            self.stop()

    # -- where things live -------------------------------------------------

    def _resolve(self) -> None:
        """Pick the OS user and the real data dir; needs no server binaries."""
        if self._resolved:
            return
        self._os_user = _server_os_user()
        data = self.requested_dir
        if self._os_user is not None:
            data.parent.mkdir(parents=True, exist_ok=True)
            if not _user_can_reach(self._os_user, data.parent):
                digest = hashlib.sha256(str(data).encode()).hexdigest()[:10]
                prefix = EPHEMERAL_PREFIX if self.ephemeral else FALLBACK_PREFIX
                fallback = FALLBACK_ROOT / f"{prefix}{digest}"
                _note(
                    f"OS user {self._os_user!r} cannot reach {data.parent}; "
                    f"the cluster for {data} lives in {fallback} instead"
                )
                data = fallback
        self._data_dir = data
        self._resolved = True

    def _bin(self, tool: str) -> str:
        if self._bindir is None:
            bindir = find_system_bindir()
            if bindir is None:
                bindir = find_pgserver_bindir()
                if bindir is None:
                    raise _no_binaries_error()
                self._resolve()
                if self._os_user and not _user_can_reach(self._os_user, bindir):
                    bindir = _copy_pgserver_for(self._os_user, bindir)
            self._bindir = bindir
        path = self._bindir / tool
        if tool == "psql" and not path.exists():
            on_path = shutil.which("psql")
            if on_path is None:
                raise LocalPostgresError(f"psql not found in {self._bindir} or PATH")
            return on_path
        return str(path)

    def _prepare_dir(self, data: Path) -> None:
        if self._os_user is None:
            data.mkdir(mode=0o700, parents=True, exist_ok=True)
            return
        entry = pwd.getpwnam(self._os_user)
        if data.parent == FALLBACK_ROOT:
            _safe_shared_dir(data, [0, entry.pw_uid])
        else:
            data.mkdir(mode=0o700, parents=True, exist_ok=True)
        if data.stat().st_uid != entry.pw_uid:
            _chown_tree(data, entry.pw_uid, entry.pw_gid)
        data.chmod(0o700)  # the server refuses group/world-accessible data dirs

    def _wipe(self) -> None:
        """Empty an ephemeral data dir, refusing to delete anything not ours."""
        data = self.data_dir
        if not data.is_dir() or not any(data.iterdir()):
            return
        if not (data / "PG_VERSION").exists():
            raise LocalPostgresError(
                f"{data} is not empty and holds no PostgreSQL cluster; "
                "refusing to use it for an ephemeral cluster"
            )
        shutil.rmtree(data)

    def _remembered_port(self) -> int | None:
        try:
            return int((self.data_dir / PORT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    # -- running the tools -------------------------------------------------

    def _run(
        self,
        argv: list[str],
        *,
        as_server_user: bool = True,
        timeout: float = 120,
        input_text: str | None = None,
        new_session: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        if as_server_user and self._os_user is not None:
            argv = ["runuser", "-u", self._os_user, "--", *argv]
        return subprocess.run(
            argv,
            check=False,
            capture_output=True,
            text=True,
            input=input_text,
            timeout=timeout,
            env=_tool_env(),
            # The server user may not be allowed into our working directory.
            cwd="/",
            start_new_session=new_session,
        )

    def _initdb(self) -> None:
        argv = [self._bin("initdb"), "-D", str(self.data_dir), "-U", DB_USER]
        argv += ["--auth=trust", "--encoding=UTF8", "--locale=C"]
        if self.ephemeral:
            argv.append("--no-sync")  # halves the cold start; data is throw-away
        result = self._run(argv)
        if result.returncode != 0:
            raise LocalPostgresError(
                f"initdb failed for {self.data_dir}:\n{result.stdout}{result.stderr}"
            )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# devtools/localpg.py settings\ninclude '{CONF_FILE}'\n")

    def _basebackup(self, primary: LocalPostgres) -> None:
        port = primary.port
        if port is None or not primary.is_running():
            raise LocalPostgresError(f"the primary in {primary.data_dir} does not run")
        tool = self._bin("pg_basebackup")
        if not Path(tool).exists():
            raise LocalPostgresError(
                f"pg_basebackup is not beside the server binaries in {self._bindir} "
                "(Debian: the postgresql-client package of the server's version)"
            )
        argv = [tool, "-h", HOST, "-p", str(port), "-U", DB_USER, "-D", str(self.data_dir)]
        # -R: standby.signal and primary_conninfo; the WAL of the copy streamed alongside.
        argv += ["-R", "-X", "stream", "-c", "fast", "--no-sync"]
        result = self._run(argv)
        if result.returncode != 0:
            raise LocalPostgresError(
                f"pg_basebackup of {primary.data_dir} failed:\n{result.stdout}{result.stderr}"
            )

    def _write_conf(self, port: int) -> None:
        # Rewritten at every start so that changes here reach existing clusters.
        settings = {
            "listen_addresses": f"'{HOST}'",
            "port": str(port),
            "unix_socket_directories": "''",
            "max_connections": str(MAX_CONNECTIONS),
            "log_line_prefix": "'%m [%p] %q%u@%d '",
        }
        if self.ephemeral:
            settings.update(fsync="off", synchronous_commit="off")
            settings["full_page_writes"] = "off"
        settings.update(self.conf)
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        (self.data_dir / CONF_FILE).write_text(
            "# Written by devtools/localpg.py at every start; edits are lost.\n" + text
        )
        (self.data_dir / PORT_FILE).write_text(f"{port}\n")

    def _pick_port(self, attempt: int) -> int:
        if self._requested_port is not None:
            return self._requested_port
        remembered = None if self.ephemeral else self._remembered_port()
        if remembered is not None and attempt == 0:
            if _port_is_free(remembered):
                return remembered
            _note(f"remembered port {remembered} is taken; picking another one")
        return _free_port()

    def _start_server(self, port: int | None = None) -> None:
        data = self.data_dir
        log = data / LOG_FILE
        last_error = ""
        for attempt in range(3):
            found = _read_postmaster_pid(data)
            if found is not None and not _postmaster_alive(found[0], data):
                # Left by a killed server; its pid may now belong to another
                # process, which would make the server refuse to start.
                (data / "postmaster.pid").unlink(missing_ok=True)
            chosen = port if port is not None else self._pick_port(attempt)
            self._write_conf(chosen)
            self._port = chosen
            log_size = log.stat().st_size if log.exists() else 0
            argv = [self._bin("pg_ctl"), "start", "-D", str(data), "-l", str(log)]
            argv += ["-w", "-t", str(START_TIMEOUT_S), "-s"]
            # Own session: a Ctrl-C in the terminal must not reach the server,
            # so that `make run` can stop the app before the database.
            result = self._run(argv, timeout=START_TIMEOUT_S + 30, new_session=True)
            if result.returncode == 0:
                return
            last_error = (result.stdout + result.stderr).strip()
            try:
                with log.open("rb") as fh:
                    fh.seek(log_size)
                    new_log = fh.read().decode(errors="replace")
            except OSError:
                new_log = ""
            # Retry what a moment fixes: a port grabbed between our check and
            # the server's bind, or a killed server's children still exiting.
            retryable = "could not bind" in new_log or "still in use" in new_log
            if not retryable:
                break
            time.sleep(0.5 * (attempt + 1))
        raise LocalPostgresError(
            f"PostgreSQL did not start (data dir {data}): {last_error}\n"
            f"last lines of {log}:\n{_tail(log)}"
        )

    def _ensure_database(self) -> None:
        port = self.port
        # CREATE DATABASE has no IF NOT EXISTS; \gexec runs it only when missing.
        # psql quotes :'db' itself, so the name needs no formatting into SQL.
        sql = (
            "SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS "
            "(SELECT FROM pg_database WHERE datname = :'db')\\gexec\n"
        )
        argv = [self._bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"db={DB_NAME}"]
        argv += ["-h", HOST, "-p", str(port), "-U", DB_USER, "-d", "postgres"]
        deadline = time.monotonic() + 15
        while True:
            # TCP + trust: no need to run psql as the server user.
            result = self._run(argv, as_server_user=False, input_text=sql)
            if result.returncode == 0:
                return
            if "already exists" in result.stderr:
                return  # created concurrently by another process
            # Only a refused connection is worth waiting for (a server that
            # just said "ready" may still be finishing its startup).
            if "connect" not in result.stderr or time.monotonic() > deadline:
                raise LocalPostgresError(
                    f"cannot create database {DB_NAME} on port {port}: "
                    f"{result.stderr.strip()}\nlast lines of {self.log_file}:\n"
                    f"{_tail(self.log_file)}"
                )
            time.sleep(0.2)

    def _stop_server(self) -> None:
        data = self.data_dir
        pg_ctl = self._bin("pg_ctl")
        argv = [pg_ctl, "stop", "-D", str(data), "-m", "fast", "-w", "-s"]
        result = self._run([*argv, "-t", str(STOP_TIMEOUT_S)], timeout=STOP_TIMEOUT_S + 30)
        if result.returncode == 0 or not self.is_running():
            return
        # Clients that never disconnect can stall even a fast shutdown.
        _note(f"fast shutdown failed ({result.stderr.strip()}); using immediate")
        self._run([pg_ctl, "stop", "-D", str(data), "-m", "immediate", "-w", "-s"])
        found = _read_postmaster_pid(data)
        if found is not None and _postmaster_alive(found[0], data):
            os.kill(found[0], signal.SIGKILL)

    def _stop_at_exit(self) -> None:
        if os.getpid() == self._atexit_pid and self.started:
            try:
                self.stop()
            except (LocalPostgresError, OSError, subprocess.SubprocessError) as exc:
                # The interpreter is exiting: report, don't raise.
                _note(f"could not stop the ephemeral cluster in {self.data_dir}: {exc}")


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.localpg",
        description="Manage the local development PostgreSQL cluster.",
    )
    parser.add_argument(
        "command",
        choices=["start", "stop", "status", "url", "remove", "server-bindir"],
        help="start: create/start, print URL; stop; status (exit 3 if stopped); "
        "url: print URL; remove: stop and delete the cluster; server-bindir: "
        "print the installed server's bin dir (exit 1 if none; pgserver not "
        "considered)",
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".data/pg"))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)

    if args.command == "server-bindir":
        bindir = find_system_bindir()
        if bindir is None:
            return 1
        print(bindir)
        return 0

    pg = LocalPostgres(args.data_dir, args.port)
    try:
        if args.command == "start":
            print(pg.start())
        elif args.command == "stop":
            pg.stop()
        elif args.command == "remove":
            pg.remove()
        elif args.command == "url":
            print(pg.url)
        elif pg.is_running():
            print(f"running: {pg.url} (data dir {pg.data_dir})")
        else:
            print(f"not running (data dir {pg.data_dir})")
            return 3
    except LocalPostgresError as exc:
        print(f"localpg: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
