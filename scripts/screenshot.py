"""Photograph the HTML report of the demo run for the README: `python scripts/screenshot.py
[OUT.png]` (default docs/report.png; `make screenshot` runs it).

It runs `sqlorch run` (the demo configuration, sqlorch/cli/demo.toml) in a temporary directory,
so nothing here is written but the PNG, and opens the report in headless Chromium at desktop
width, keeping the first screenful (1400 x 1530 px: the header, the comparison table and the
equity curves). Needs Chromium: $CHROMIUM if set, else `chromium`, `chromium-browser` or
`google-chrome` on the PATH; without one it stops with a message and exit status 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "report.png"
WIDTH, HEIGHT = 1400, 1530
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """The Chromium to use: $CHROMIUM if set, else the first of BROWSERS on the PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        return shutil.which(named)
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def run_demo(work: Path) -> Path:
    """Run the demo inside `work`; the HTML report it wrote."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "sqlorch", "run", "--quiet"], cwd=work, env=env,
                          stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(f"screenshot: the demo run failed (exit status {done.returncode}; its message is above)")
    reports = sorted((work / "reports").glob("*.html"))
    if len(reports) != 1:
        raise SystemExit(f"screenshot: expected one HTML report in {work / 'reports'}, found {len(reports)}")
    return reports[0]


def photograph(browser: str, page: Path, out: Path, profile: Path) -> None:
    """Save the first WIDTH x HEIGHT pixels of `page` as `out` (charts drawn first)."""
    command = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}",
               "--virtual-time-budget=5000", f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={out}",
               page.as_uri()]
    try:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"screenshot: {browser} took over 2 minutes to photograph {page}") from None
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"screenshot: {browser} could not photograph {page}:\n{done.stderr.strip()}")


def main(argv: list[str]) -> int:
    out = Path(argv[0]).resolve() if argv else DEFAULT_OUT
    browser = find_browser()
    if browser is None:
        print("screenshot: Chromium not found (looked for $CHROMIUM, then " + ", ".join(BROWSERS) + " on the PATH); "
              "install it (Debian: apt-get install chromium) or set CHROMIUM to the browser's path",
              file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sqlorch-screenshot-") as tmp:
        work = Path(tmp)
        page = run_demo(work)
        photograph(browser, page, out, work / "profile")
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
