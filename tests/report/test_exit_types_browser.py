"""How trades ended (issue 26) in a real browser: the Trades section of a run whose trades end
every way fits a laptop (1400 px) and a phone (420 px) without sideways scrolling, each
strategy's count on the wide screen only, and is photographed at both (PNG files in the test's
tmp dir). Uses the WebDriver of test_browser.py, and is skipped (or required) as it is."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from test_browser import PNG, WebDriver, _fits, _visible_headers, browser, pytestmark  # noqa: F401 (fixture, skip)

from sqlorch import OrchestratorConfig, Rule, StrategyOrchestrator
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.features import field, highest
from sqlorch.report.run import write_reports
from sqlorch.store.warehouse import Warehouse
from sqlorch.strategies import Momentum, RSIStrategy, SMACross


@pytest.fixture(scope="module")
def stops_report(tmp_path_factory) -> Path:
    """The HTML report of four sleeves whose trades end every way: by signal, stop-loss,
    take-profit and trailing stop, one sleeve with a long name."""
    home = tmp_path_factory.mktemp("stops-run")
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=None, commission_bps=1.0)
    pairs = [(SMACross(stop_loss=0.05, take_profit=0.10), Decimal("0.3")),
             (Rule(entry=field("close") > highest(50, lag=1), trail=0.08, name="breakout_with_a_long_name"),
              Decimal("0.3")), (Momentum(), Decimal("0.2")), (RSIStrategy(stop_loss=0.1), Decimal("0.2"))]
    result = StrategyOrchestrator(pairs, config).run(synthetic_bars())
    return write_reports(Warehouse(config.warehouse), result.run_id, home / "reports", ("html",))["html"]


@pytest.mark.parametrize(("width", "headers"), [
    (1400, ["Ended by", "Trades", "Win rate", "P&L", "sma_cross", "breakout_with_a_long_name", "momentum",
            "rsi_strategy"]),
    (420, ["Ended by", "Trades", "Win rate", "P&L"]),  # each strategy's count on a wider screen
])
def test_how_trades_ended_fits(browser: WebDriver, stops_report: Path, tmp_path: Path, width: int,  # noqa: F811
                               headers: list[str]) -> None:
    browser.emulate(width, 900, mobile=width < 640)
    browser.open(stops_report.as_uri())
    assert browser.run("return document.documentElement.scrollWidth - window.innerWidth;") <= 0
    assert max(_fits(browser, "#trades table")) <= 0  # the exit column of the best and worst trades too
    assert _visible_headers(browser, "table.exits") == headers
    shown = browser.run("return [...document.querySelectorAll('table.exits tbody tr td:first-child')]"
                        ".map(td => td.innerText.trim());")
    assert shown == ["Signal", "Stop-loss", "Take-profit", "Trailing stop", "Still open"]
    png = browser.screenshot(tmp_path / f"exits-{width}.png")
    assert png.read_bytes().startswith(PNG)
