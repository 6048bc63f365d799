"""`make run` (devtools/run.py): the launcher waits for the server's drain and graceful timeout
before it kills it, read as the server reads them: from the environment, and from .env
(review #15); a malformed value stops it with a clear message, not a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import run

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
