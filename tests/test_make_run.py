"""`make run` on a clean clone, in a shell that knows nothing of this environment, then every
command its output prints, as printed (issue 21, item 1). Slow (it installs sqlorch into a
new virtual environment and compiles the engine: about a minute), so it runs once, here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("make") is None or not (REPO / ".git").exists(),
                    reason="needs git, make and a git checkout")
def test_make_run_on_a_clean_clone_and_the_commands_it_prints(tmp_path: Path) -> None:
    clone = tmp_path / "sqlorch"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    ours = Path(sys.prefix).resolve()
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and not Path(p).resolve().is_relative_to(ours))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")} | {"PATH": path}
    made = subprocess.run(["make", "run"], cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    lines = made.stdout.splitlines()
    assert any(line.startswith("portfolio") for line in lines)
    assert not (clone / ".venv" / "bin" / "pytest").exists()  # running needs no test tools
    printed = [line.split(maxsplit=1)[1] for line in lines if line.startswith("explore")]
    printed.append(".venv/bin/sqlorch --help")  # as the last line says
    assert any(".venv/bin/sqlorch" in line and "activate" in line for line in lines[-2:])
    for command in printed:
        done = subprocess.run(["/bin/sh", "-c", command], cwd=clone, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout.strip(), command
