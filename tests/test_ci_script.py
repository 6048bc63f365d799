""".ci/run installs what CI's tests need and fail without: Debian's chromium (tests/test_browser.py)
and, where `npm` is missing, Debian's nodejs and npm (tests/test_typescript_client.py). Its
install block is run here with stand-ins for `apt-get` and `id` on an otherwise empty PATH (no
npm), and, with npm present, it installs no Node.js."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _install_block() -> str:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    start = script.index('packages=""')
    return script[start : script.index("\nfi\n", start) + 4]


def _run_block(tmp_path: Path, *, npm: bool) -> str:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    log = tmp_path / "apt.log"
    stubs = {"apt-get": f'echo "$@" >> {log}', "id": "echo 0"}
    if npm:
        stubs["npm"] = "true"
    for name, body in stubs.items():
        (bin_ / name).write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        (bin_ / name).chmod(0o755)
    subprocess.run(
        ["/bin/bash", "-c", _install_block()],
        env={"PATH": str(bin_)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return log.read_text(encoding="utf-8") if log.exists() else ""


def test_ci_installs_node_and_npm_where_npm_is_missing(tmp_path: Path) -> None:
    installed = _run_block(tmp_path, npm=False)
    assert "install" in installed
    assert {"nodejs", "npm"} <= set(installed.split())


def test_ci_installs_no_node_where_npm_is_present(tmp_path: Path) -> None:
    installed = _run_block(tmp_path, npm=True)
    assert "nodejs" not in installed.split()
