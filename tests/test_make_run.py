"""`make run` (devtools/run.py): the launcher waits for the server's drain and graceful timeout
before it kills it, read as the server reads them: from the environment, and from .env
(review #15); a malformed value stops it with a clear message, not a traceback. Stopping it with
Ctrl+C is what a person means to do: exit 0, no error and no traceback (issue 12)."""

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devtools import run
from tests.live_server import listening_socket, port_of

README = run.REPO / "README.md"
DEFAULT = 5.0 + 25 + run.SHUTDOWN_MARGIN_S  # drain, graceful timeout, margin


def dotenv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("environment", "file", "grace"),
    [
        ({}, "", DEFAULT),
        ({"APP_SERVER__DRAIN_SECONDS": "60"}, "", 60 + 25 + run.SHUTDOWN_MARGIN_S),
        # A longer drain in .env is waited for, as the server will drain that long ...
        ({}, "APP_SERVER__DRAIN_SECONDS=120\n", 120 + 25 + run.SHUTDOWN_MARGIN_S),
        ({}, "export APP_SERVER__GRACEFUL_TIMEOUT_SECONDS='90'\n", 5 + 90 + run.SHUTDOWN_MARGIN_S),
        # ... and the environment wins over .env, as in the app's settings.
        (
            {"APP_SERVER__DRAIN_SECONDS": "1"},
            "APP_SERVER__DRAIN_SECONDS=120\nAPP_SERVER__GRACEFUL_TIMEOUT_SECONDS=30\n",
            1 + 30 + run.SHUTDOWN_MARGIN_S,
        ),
        ({"app_server__drain_seconds": "2"}, "", 2 + 25 + run.SHUTDOWN_MARGIN_S),
        ({}, "# APP_SERVER__DRAIN_SECONDS=120\nOTHER=1\n", DEFAULT),
    ],
)
def test_the_launcher_waits_for_the_drain_set_in_the_environment_or_dotenv(
    tmp_path: Path, environment: dict[str, str], file: str, grace: float
) -> None:
    assert run.shutdown_grace_s(environment, dotenv(tmp_path, file)) == grace


def test_no_dotenv_means_the_environment_alone(tmp_path: Path) -> None:
    missing = tmp_path / ".env"
    assert run.shutdown_grace_s({}, missing) == DEFAULT


@pytest.mark.parametrize(
    ("environment", "file", "said"),
    [
        ({}, "APP_SERVER__DRAIN_SECONDS=lots\n", "APP_SERVER__DRAIN_SECONDS='lots' (in .env)"),
        (
            {"APP_SERVER__GRACEFUL_TIMEOUT_SECONDS": "0"},
            "",
            "APP_SERVER__GRACEFUL_TIMEOUT_SECONDS='0' (in the environment)",
        ),
        ({}, "APP_SERVER__DRAIN_SECONDS=-1\n", "APP_SERVER__DRAIN_SECONDS='-1' (in .env)"),
    ],
)
def test_a_malformed_server_setting_is_named(
    tmp_path: Path, environment: dict[str, str], file: str, said: str
) -> None:
    with pytest.raises(run.BadSetting) as refused:
        run.shutdown_grace_s(environment, dotenv(tmp_path, file))
    assert str(refused.value).startswith(said)


def test_the_launcher_says_what_is_malformed_without_a_traceback() -> None:
    # Port 0: nothing is listening there, so the launcher gets as far as reading the settings,
    # and stops before it starts any database or server.
    env = {**os.environ, "PORT": "0", "APP_SERVER__DRAIN_SECONDS": "five"}
    done = subprocess.run(
        [sys.executable, "-m", "devtools.run"],
        env=env,
        cwd=run.REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "cannot start the server: APP_SERVER__DRAIN_SECONDS='five' (in the environment)" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


async def _admin_sql(database_url: str, statement: str) -> None:
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _run_the_readme_examples(port: int) -> None:
    """The README's shell examples, as written but for the port, against the demo data: each
    runs through (bash -e, pipefail) and shows what the README says it shows."""
    if shutil.which("curl") is None:
        pytest.skip("no curl to run the README's examples with")
    blocks: list[str] = re.findall(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    examples = [b for b in blocks if "API=http://127.0.0.1:8000/api/v1" in b]
    assert len(examples) >= 2
    answers = []
    for example in examples:
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", example.replace(":8000/", f":{port}/")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{example}\n{done.stdout}\n{done.stderr}"
        answers.append(done.stdout)
    unit_of_laian_admin = answers[0]
    assert '"items":[{' in unit_of_laian_admin  # the unit's cadres, found through /auth/me
    assert '"candidates":[' in unit_of_laian_admin  # and its roll call
    assert "HTTP/1.1 200" in answers[1]  # logout
    assert '"code":"auth.invalid_grant"' in answers[1]  # the revoked sign-in refreshes no more


def test_ctrl_c_stops_make_run_without_an_error(database_url: str) -> None:
    """The whole launcher on a database of its own (migrations, demo data, the server); the
    README's examples against it; then one SIGINT, as the terminal sends it on Ctrl+C: it drains,
    stops and exits 0, so that make says nothing about an error."""
    name = f"make_run_{uuid.uuid4().hex[:12]}"
    server, _, _ = database_url.rpartition("/")
    asyncio.run(_admin_sql(database_url, f'CREATE DATABASE "{name}"'))
    try:
        sock = listening_socket()
        port = port_of(sock)
        sock.close()
        env = {
            **os.environ,
            "PORT": str(port),
            "DATABASE_URL": f"{server}/{name}",
            "APP_SERVER__DRAIN_SECONDS": "0",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.run"],
            env=env,
            cwd=run.REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        said: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                said.append(line)
                if "Stop with Ctrl+C." in line:
                    break
            assert proc.poll() is None, "".join(said)
            _run_the_readme_examples(port)
            proc.send_signal(signal.SIGINT)
            rest, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        output = "".join(said) + rest
        assert proc.returncode == 0, output
        assert "Traceback" not in output
        # The long steps before the server say what they do: each migration, each demo step.
        assert "migrating the database to the latest revision" in output
        assert "Running upgrade  -> 0001" in output
        assert "demo: [2/6] loading 300 cadres" in output
        launcher = [line for line in output.splitlines() if line.startswith("[make run]")]
        assert "[make run] stopping: draining first (Ctrl+C again to skip the drain)" in launcher
        assert launcher[-1] == "[make run] the server stopped", output
        assert not [line for line in launcher if "error" in line.lower()], output
    finally:
        asyncio.run(_admin_sql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_ctrl_c_while_preparing_stops_without_a_traceback(database_url: str) -> None:
    """Ctrl+C while the launcher migrates and loads the demo: the terminal sends SIGINT to the
    whole process group (the launcher and the demo step alike). Neither prints a traceback, and
    the launcher exits 0."""
    name = f"make_run_{uuid.uuid4().hex[:12]}"
    server, _, _ = database_url.rpartition("/")
    asyncio.run(_admin_sql(database_url, f'CREATE DATABASE "{name}"'))
    try:
        sock = listening_socket()
        port = port_of(sock)
        sock.close()
        env = {**os.environ, "PORT": str(port), "DATABASE_URL": f"{server}/{name}"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.run"],
            env=env,
            cwd=run.REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own group, as a terminal's foreground job
        )
        said: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                said.append(line)
                if "migrating the database" in line:
                    break
            os.killpg(proc.pid, signal.SIGINT)
            rest, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        output = "".join(said) + rest
        assert proc.returncode == 0, output
        assert "Traceback" not in output
        assert "[make run] stopped before the server started" in output
    finally:
        asyncio.run(_admin_sql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
