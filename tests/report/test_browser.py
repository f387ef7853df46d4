"""The HTML report in a real browser: headless Chromium (Debian packages `chromium` and
`chromium-driver`, installed by .ci/run) opens the file, logs no console error, loads nothing
from anywhere else, fits a phone screen without sideways scrolling, and is photographed at
laptop and phone sizes (PNG files in the test's tmp dir). A 15-year run shows its equity on a
log scale, its capital usage as strips, its trades, and its key columns on a phone; a grid's
top-K tables fit at 1400 and 420 px.

The browser is driven through chromedriver's W3C WebDriver API with a few urllib calls. Without
the packages the test is skipped, unless SQLORCH_REQUIRE_BROWSER=1 (set by .ci/run) makes that
a failure.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from sqlorch import BacktestConfig, GridSearch, OrchestratorConfig, StrategyOrchestrator
from sqlorch.bars.synthetic import synthetic_bars, trading_days
from sqlorch.report.grid import write_grid_reports
from sqlorch.report.run import write_reports
from sqlorch.store.warehouse import Warehouse
from sqlorch.strategies import BuyAndHold, Momentum, RSIStrategy, SMACross

BROWSERS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", "--window-size=1280,900")
PNG = b"\x89PNG\r\n\x1a\n"


def _find_browser() -> tuple[str, str] | None:
    driver = shutil.which("chromedriver")
    binary = next((b for b in BROWSERS if Path(b).is_file() and os.access(b, os.X_OK)), None)
    return (driver, binary) if driver and binary else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """Just enough of the W3C WebDriver protocol (plus chromedriver's CDP bridge) for one page."""

    def __init__(self, driver: str, binary: str, profile: Path):
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([driver, f"--port={port}"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.05)
        options = {"binary": binary, "args": [*FLAGS, f"--user-data-dir={profile}"]}
        created = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options, "goog:loggingPrefs": {"browser": "ALL"}}}})
        self.session = f"/session/{created['sessionId']}"

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"WebDriver {method} {path}: {exc.read().decode(errors='replace')}") from None

    def open(self, url: str) -> None:
        self._call("POST", f"{self.session}/url", {"url": url})

    def run(self, script: str) -> Any:
        """The value `script` (a function body) returns in the page."""
        return self._call("POST", f"{self.session}/execute/sync", {"script": script, "args": []})

    def cdp(self, command: str, **params: Any) -> Any:
        return self._call("POST", f"{self.session}/goog/cdp/execute", {"cmd": command, "params": params})

    def console(self) -> list[dict]:
        """Browser log entries since the last call (level, message, source)."""
        return self._call("POST", f"{self.session}/se/log", {"type": "browser"})

    def emulate(self, width: int, height: int, scale: float = 1, mobile: bool = False) -> None:
        self.cdp("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=scale,
                 mobile=mobile)

    def screenshot(self, path: Path) -> Path:
        """The whole page (not only the viewport) as PNG."""
        width, height = self.run("return [document.documentElement.scrollWidth, "
                                 "document.documentElement.scrollHeight];")
        shot = self.cdp("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def quit(self) -> None:
        try:
            self._call("DELETE", self.session)
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


FOUND = _find_browser()
REQUIRED = os.environ.get("SQLORCH_REQUIRE_BROWSER") == "1"
pytestmark = pytest.mark.skipif(FOUND is None and not REQUIRED,
                                reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    assert FOUND is not None, "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
    driver = WebDriver(*FOUND, tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


class Named(RSIStrategy):
    """RSI under a name that would run script if the page did not escape it."""

    name = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"


@pytest.fixture(scope="module")
def html_report(tmp_path_factory) -> Path:
    """The HTML report of a 3-strategy run over 6 symbols x 1 year, one strategy with a hostile name."""
    home = tmp_path_factory.mktemp("browser-run")
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=None, commission_bps=1.0)
    pairs = [(BuyAndHold(), Decimal("0.4")), (Momentum(lookback=10), Decimal("0.3")), (Named(), Decimal("0.3"))]
    result = StrategyOrchestrator(pairs, config).run(synthetic_bars(symbols=6, years=1, seed=3))
    return write_reports(Warehouse(config.warehouse), result.run_id, home / "reports", ("html",))["html"]


def test_report_opens_cleanly_on_laptop_and_phone(browser: WebDriver, html_report: Path, tmp_path: Path) -> None:
    browser.emulate(1280, 900)
    browser.open(html_report.as_uri())
    assert browser.run("return document.title;").startswith("sqlorch run ")  # no injected script ran
    assert Named.name in browser.run("return document.querySelector('table.comparison').innerText;")
    errors = [e for e in browser.console() if e.get("level") == "SEVERE"]
    assert errors == []
    assert browser.run("return performance.getEntriesByType('resource').length;") == 0  # nothing fetched
    visible = browser.run("return [...document.querySelectorAll('svg.chart')]"
                          ".filter(s => s.getBoundingClientRect().width > 0).length;")
    assert visible >= 5  # equity, drawdown, contribution, heatmap, capital usage
    laptop = browser.screenshot(tmp_path / "report-laptop.png")

    browser.emulate(390, 844, scale=2, mobile=True)
    browser.open(html_report.as_uri())
    overflow = browser.run("return document.documentElement.scrollWidth - window.innerWidth;")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
    narrow = browser.run("return [...document.querySelectorAll('.chart-narrow')]"
                         ".filter(d => d.getBoundingClientRect().width > 0).length;")
    assert narrow >= 5  # the phone gets the narrow drawings
    phone = browser.screenshot(tmp_path / "report-phone.png")
    assert [e for e in browser.console() if e.get("level") == "SEVERE"] == []

    for png in (laptop, phone):
        data = png.read_bytes()
        assert data.startswith(PNG) and len(data) > 20_000, png


# -- the report polish of issue 21: long runs, phones, grids -------------------------------------


def _growing_bars(years: int = 15, seed: int = 8) -> pl.DataFrame:
    """Two symbols rising about 40-fold over `years` of daily bars, with noise: a run whose
    equity curves span far more than 5x."""
    rng = np.random.default_rng(seed)
    days = trading_days(years * 252)
    frames = []
    for symbol, drift in (("GROW", 0.0015), ("SLOW", 0.0008)):
        close = 20 * np.exp(np.cumsum(drift + 0.015 * rng.standard_normal(len(days))))
        frames.append(pl.DataFrame({"symbol": symbol, "ts": days, "open": close * 0.999, "high": close * 1.01,
                                    "low": close * 0.99, "close": close, "volume": 1e6}))
    return pl.concat(frames)


@pytest.fixture(scope="module")
def long_report(tmp_path_factory) -> Path:
    """The HTML report of 3 strategies over 15 years of daily bars that grew 40-fold."""
    home = tmp_path_factory.mktemp("long-run")
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=None)
    pairs = [(BuyAndHold(), Decimal("0.4")), (Momentum(lookback=20), Decimal("0.3")),
             (SMACross(fast=20, slow=100), Decimal("0.3"))]
    result = StrategyOrchestrator(pairs, config).run(_growing_bars())
    return write_reports(Warehouse(config.warehouse), result.run_id, home / "reports", ("html",))["html"]


def _fits(browser: WebDriver, selector: str) -> list[int]:
    """How far each element matching `selector` scrolls sideways (0: it fits)."""
    return browser.run(f"return [...document.querySelectorAll({json.dumps(selector)})]"
                       ".map(e => e.closest('.scroll') || e).map(s => s.scrollWidth - s.clientWidth);")


def _visible_headers(browser: WebDriver, table: str) -> list[str]:
    return browser.run(f"return [...document.querySelectorAll({json.dumps(table + ' thead th')})]"
                       ".filter(th => th.getBoundingClientRect().width > 0).map(th => th.innerText.trim());")


def test_a_15_year_report_reads_on_a_laptop(browser: WebDriver, long_report: Path, tmp_path: Path) -> None:
    browser.emulate(1400, 900)
    browser.open(long_report.as_uri())
    charts_shown = browser.run("return [...document.querySelectorAll('svg.chart')]"
                               ".filter(s => s.getBoundingClientRect().width > 0)"
                               ".map(s => s.getAttribute('aria-label'));")
    # equity on a log scale: the curves span far more than 5x
    assert "Growth of starting capital (log scale)" in charts_shown
    ticks = browser.run("return [...document.querySelector('#performance svg.chart').querySelectorAll('text.tick')]"
                        ".map(t => t.textContent);")
    assert "1x" in ticks and "10x" in ticks
    # capital in use: one strip per sleeve, aggregated to about 150 spans, not 3,780 bars
    assert "Capital in use, share of each sleeve" in charts_shown
    cells = browser.run("return document.querySelector('#capital .chart-wide svg')"
                        ".querySelectorAll('rect title').length;")
    assert 3 * 100 <= cells <= 3 * 151
    # the trades section and every comparison column
    assert browser.run("return document.querySelector('#trades h3').innerText;") == "By symbol"
    assert _visible_headers(browser, "table.comparison") == [
        "Strategy", "Weight", "Total return", "CAGR", "Sharpe", "Sortino", "Max drawdown", "Win rate", "Trades",
        "Contribution"]
    assert max(_fits(browser, "table")) <= 0
    png = browser.screenshot(tmp_path / "long-laptop.png")
    assert png.read_bytes().startswith(PNG)


def test_a_15_year_report_reads_on_a_phone(browser: WebDriver, long_report: Path, tmp_path: Path) -> None:
    browser.emulate(420, 900, scale=2, mobile=True)
    browser.open(long_report.as_uri())
    assert browser.run("return document.documentElement.scrollWidth - window.innerWidth;") <= 0
    # the comparison keeps its key columns, with short titles, and does not scroll sideways
    assert _visible_headers(browser, "table.comparison") == ["Strategy", "Return", "Sharpe", "Max DD", "Trades"]
    assert _fits(browser, "table.comparison") == [0]
    assert _fits(browser, "table.lineup") == [0]
    assert max(_fits(browser, "#trades table")) <= 0
    assert browser.run("return document.querySelector('#capital .chart-narrow svg').getBoundingClientRect().width;") \
        <= 420
    png = browser.screenshot(tmp_path / "long-phone.png")
    assert png.read_bytes().startswith(PNG)


@pytest.fixture(scope="module")
def grid_report(tmp_path_factory) -> Path:
    """The HTML grid report of a search over three RSI parameters and two SMA-cross ones."""
    home = tmp_path_factory.mktemp("grid-run")
    config = BacktestConfig(warehouse=str(home / "w.duckdb"), log_dir=None)
    result = GridSearch([(SMACross, {"fast": [5, 10], "slow": [20, 50]}),
                         (RSIStrategy, {"period": [7, 14], "low": [25, 30], "high": [70, 75]})],
                        config, workers=1).run(synthetic_bars(symbols=3, years=2, seed=6))
    return write_grid_reports(Warehouse(config.warehouse), result.run_id, home / "reports", formats=("html",))["html"]


@pytest.mark.parametrize("width, headers", [
    (1400, ["Rank", "period", "low", "high", "Sharpe", "Return", "CAGR", "Sortino", "Max DD", "Win rate", "Trades",
            "Closed", "PSR", "Final equity"]),
    (420, ["Rank", "period", "low", "high", "Sharpe", "Return", "Max DD", "Trades"]),
])
def test_grid_top_tables_fit(browser: WebDriver, grid_report: Path, tmp_path: Path, width: int,
                             headers: list[str]) -> None:
    browser.emulate(width, 900, mobile=width < 640)
    browser.open(grid_report.as_uri())
    assert _fits(browser, "table.top") == [0, 0]  # neither strategy's table scrolls sideways
    rsi = browser.run("const t = document.querySelectorAll('table.top')[1]; return [...t.querySelectorAll('thead th')]"
                      ".filter(th => th.getBoundingClientRect().width > 0).map(th => th.innerText.trim());")
    assert rsi == headers
    png = browser.screenshot(tmp_path / f"grid-{width}.png")
    assert png.read_bytes().startswith(PNG)


@pytest.fixture(scope="module")
def walkforward_report(tmp_path_factory) -> Path:
    """The HTML report of a walk-forward of two strategies over 15 years of growing bars."""
    from sqlorch import WalkForward
    from sqlorch.grid.walkforward import load_walkforward_result
    from sqlorch.report.walkforward import walkforward_report_context, write_walkforward_report

    home = tmp_path_factory.mktemp("walk")
    config = BacktestConfig(warehouse=str(home / "w.duckdb"), log_dir=None)
    result = WalkForward([(SMACross, {"fast": [10, 20], "slow": [50, 100]}), (Momentum, {"lookback": [10, 40]})],
                         config=config, train="3y", test="1y", workers=1).run(_growing_bars())
    context = walkforward_report_context(result.warehouse, result.run_id,
                                         load_walkforward_result(result.warehouse, result.run_id))
    return write_walkforward_report(context, home / "wf.html", "html")


@pytest.mark.parametrize("width", [1400, 420])
def test_walkforward_report_fits(browser: WebDriver, walkforward_report: Path, tmp_path: Path, width: int) -> None:
    browser.emulate(width, 900, mobile=width < 640)
    browser.open(walkforward_report.as_uri())
    assert browser.run("return document.documentElement.scrollWidth - window.innerWidth;") <= 0
    assert _fits(browser, "table.folds") == [0, 0]  # both strategies' fold tables
    shown = browser.run("return [...document.querySelectorAll('svg.chart')]"
                        ".filter(s => s.getBoundingClientRect().width > 0).map(s => s.getAttribute('aria-label'));")
    assert shown.count("Growth of starting capital, out of sample and in sample (log scale)") + \
        shown.count("Return on starting capital, out of sample and in sample") == 2
    assert [e for e in browser.console() if e.get("level") == "SEVERE"] == []
    png = browser.screenshot(tmp_path / f"walkforward-{width}.png")
    assert png.read_bytes().startswith(PNG)
