"""Where the shipped SQL and templates are: inside the installed package, or in a checkout."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def resource_dir(name: str) -> Path:
    """The `sql` or `templates` directory: packaged as `sqlorch/<name>` in the wheel; in an
    editable install or source checkout it is the top-level `<name>/` beside `sqlorch/`."""
    packaged = Path(str(importlib.resources.files("sqlorch"))) / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / name


def sql_files(group: str) -> list[Path]:
    """The .sql files of one group (tables, migrations, macros, views, load), in load order."""
    return sorted((resource_dir("sql") / group).glob("*.sql"))


def sql_text(group: str, name: str) -> str:
    """The text of `sql/<group>/<name>.sql`."""
    return (resource_dir("sql") / group / f"{name}.sql").read_text(encoding="utf-8")
