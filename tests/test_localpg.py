"""devtools/localpg.py: the leftovers of test runs killed before their cleanup (SIGKILL: no
atexit) are removed at the next start of an ephemeral cluster, and nothing else is."""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import localpg
from devtools.localpg import EPHEMERAL_PREFIX, remove_stale_ephemeral


def _cluster(root: Path, name: str, pid: int | None = None) -> Path:
    path = root / name
    path.mkdir()
    (path / "PG_VERSION").write_text("16\n")
    if pid is not None:
        (path / "postmaster.pid").write_text(f"{pid}\n{path}\n0\n5432\n")
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_stale_ephemeral_clusters_are_removed(tmp_path: Path) -> None:
    # A child that outlives the check stands for a postmaster that still runs.
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        stale = _cluster(tmp_path, f"{EPHEMERAL_PREFIX}0123456789", _dead_pid())
        never_started = _cluster(tmp_path, f"{EPHEMERAL_PREFIX}aaaaaaaaaa")
        running = _cluster(tmp_path, f"{EPHEMERAL_PREFIX}bbbbbbbbbb", alive.pid)
        owned = _cluster(tmp_path, f"{EPHEMERAL_PREFIX}cccccccccc")
        kept = _cluster(tmp_path, f"{EPHEMERAL_PREFIX}dddddddddd")
        persistent = _cluster(tmp_path, f"{localpg.FALLBACK_PREFIX}eeeeeeeeee", _dead_pid())
        other = _cluster(tmp_path, f"{EPHEMERAL_PREFIX}not-ours", _dead_pid())
        # Its owner runs: it holds the lock (another open file, so another lock owner).
        owner = os.open(tmp_path / f"{owned.name}.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(owner, fcntl.LOCK_EX)
        try:
            removed = remove_stale_ephemeral(tmp_path, keep=kept)
        finally:
            os.close(owner)
    finally:
        alive.kill()
        alive.wait()
    assert sorted(removed) == sorted([stale, never_started])
    assert not stale.exists()
    assert not never_started.exists()
    assert not (tmp_path / f"{stale.name}.lock").exists()
    for left in (running, owned, kept, persistent, other):
        assert (left / "PG_VERSION").exists(), left


def test_an_ephemeral_cluster_in_the_fallback_root_is_named_and_locked_as_ephemeral(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its dir is told apart from a persistent cluster's, and its lock is held while it
    lives: a second process's cleanup leaves it alone."""
    monkeypatch.setattr(localpg, "FALLBACK_ROOT", tmp_path)
    monkeypatch.setattr(localpg, "_server_os_user", lambda: "nobody")
    monkeypatch.setattr(localpg, "_user_can_reach", lambda user, path: False)
    cluster = localpg.LocalPostgres(tmp_path / "requested" / "pg", ephemeral=True)
    data = cluster.data_dir
    assert data.parent == tmp_path
    assert data.name.startswith(EPHEMERAL_PREFIX)
    persistent = localpg.LocalPostgres(tmp_path / "requested" / "pg")
    assert not persistent.data_dir.name.startswith(EPHEMERAL_PREFIX)
    cluster._claim_fallback_dir(data)
    try:
        data.mkdir()
        checker = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from devtools.localpg import "
                "remove_stale_ephemeral as r; print(len(r(Path(sys.argv[1]))))",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert checker.stdout.strip() == "0"
        assert data.exists()
    finally:
        cluster.stop()
    assert not data.exists()
    assert not (tmp_path / f"{data.name}.lock").exists()
