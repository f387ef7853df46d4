"""The wheel carries the SQL, the templates and the demo configuration, and sqlorch finds
them through package resources when run outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_resources_and_runs_outside_the_repo(tmp_path: Path) -> None:
    # built from a copy: setuptools reuses a build/ directory, which keeps files deleted since
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "build", "dist", "*.egg-info", "__pycache__", "warehouse", "logs", "reports", "*.duckdb*"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("sqlorch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_sql = {f"sqlorch/sql/{p.relative_to(ROOT / 'sql')}" for p in (ROOT / "sql").rglob("*.sql")}
    shipped_templates = {f"sqlorch/templates/{p.name}" for p in (ROOT / "templates").glob("*.j2")}
    assert shipped_sql and shipped_sql == {name for name in names if name.startswith("sqlorch/sql/")}
    assert shipped_templates and shipped_templates <= names
    assert "sqlorch/cli/demo.toml" in names

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import sqlorch; print(sqlorch.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    demo = subprocess.run([sys.executable, "-m", "sqlorch", "run", "--quiet"], cwd=elsewhere, env=env,
                          capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    assert "portfolio" in demo.stdout
    assert (elsewhere / "warehouse" / "sqlorch.duckdb").exists()
    assert list((elsewhere / "reports").glob("*.md"))
