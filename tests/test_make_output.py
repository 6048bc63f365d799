"""`make test` and `make lint` say what they do before each phase (issue 12, "the first ten
minutes"): lint, the type check with how long it takes, the suite with its own throw-away
PostgreSQL, and whether the browser test runs. Read from make's plan (`make -n`), which lists
each command in the order it runs, without running any."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _plan(target: str) -> list[str]:
    done = subprocess.run(
        ["make", "-n", target],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.splitlines()


def _first(plan: list[str], text: str) -> int:
    return next(i for i, line in enumerate(plan) if text in line)


def test_make_lint_announces_the_type_check_and_its_duration_before_it() -> None:
    plan = _plan("lint")
    said = _first(plan, "type-checking with mypy --strict (about 30 s the first time")
    assert said < _first(plan, "/bin/mypy --strict")
    assert _first(plan, "make lint: ruff check") < _first(plan, "/bin/ruff check")


def test_make_test_announces_each_phase_before_it() -> None:
    plan = _plan("test")
    pytest_runs = _first(plan, "/bin/pytest")
    assert _first(plan, "make lint: ruff check") < pytest_runs
    assert (
        _first(plan, "on a throw-away PostgreSQL, started now and removed afterwards") < pytest_runs
    )
    assert _first(plan, "the browser test is skipped") < pytest_runs
    assert _first(plan, "the browser test runs") < pytest_runs
    assert _first(plan, "the TypeScript consumer and redocly lint run") < pytest_runs
