"""The report's Allocation section (SPEC §7): the policy and its settings, each sleeve's share
against its targets over time, the allocation dates; only when the policy is not `fixed`. The
HTML page in headless Chromium at 1400 and 420 px (the WebDriver of test_browser; skipped
without chromium and chromedriver)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from test_browser import FOUND, PNG, REQUIRED, WebDriver

from sqlorch import OrchestratorConfig, StrategyOrchestrator
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.report.run import write_reports
from sqlorch.store.warehouse import Warehouse
from sqlorch.strategies import BuyAndHold, Momentum, SMACross

PAIRS = [(BuyAndHold(), Decimal("0.4")), (Momentum(lookback=10), Decimal("0.3")), (SMACross(), Decimal("0.2"))]


def reports(home: Path, **allocation) -> tuple[dict[str, Path], str]:
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=None, **allocation)
    result = StrategyOrchestrator(PAIRS, config).run(synthetic_bars(symbols=4, years=1, seed=5))
    return write_reports(Warehouse(config.warehouse), result.run_id, home / "reports"), result.run_id


@pytest.fixture(scope="module")
def allocated(tmp_path_factory) -> tuple[dict[str, Path], str, Path]:
    home = tmp_path_factory.mktemp("allocated")
    paths, run_id = reports(home, allocation="inverse_volatility", allocation_lookback=21, allocation_every="monthly",
                            min_weight=0.1, max_weight=0.5)
    return paths, run_id, home / "w.duckdb"


def test_the_section_shows_the_policy_its_settings_and_dates(allocated) -> None:
    paths, run_id, warehouse = allocated
    html, md = paths["html"].read_text(), paths["md"].read_text()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        first = con.execute("SELECT strategy_id, share_before, target / sum(target) OVER () FROM allocation_targets "
                            "WHERE run_id = ? AND bar = (SELECT min(bar) FROM allocation_targets) ORDER BY 1",
                            [run_id]).fetchall()
        dates = con.execute("SELECT count(DISTINCT bar) FROM allocation_targets WHERE run_id = ?",
                            [run_id]).fetchall()[0][0]
    assert dates == 11  # January to November month-ends (21 returns exist from the 21st bar)
    for text in (" ".join(html.split()), md):  # (HTML wraps its lines)
        assert "inverse_volatility" in text and "last 21 bars of sleeve returns, on the last bar of every month" in text
        assert "between 10.0% and 50.0% of the capital" in text and f"{dates} allocation dates" in text
    assert '<section id="allocation">' in html and "## Allocation" in md
    row = next(line for line in md.splitlines() if line.startswith("| 2023-01-31 |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    expected = {sid: f"{share:.1%} → **{target:.1%}**" for sid, share, target in first}
    assert cells == [expected[s] for s in ("buy_and_hold", "momentum", "sma_cross")]
    assert re.search(r'<pre id="sql-allocation"><code>SELECT \* FROM allocation_targets', html)
    assert "svg" in html.split('<section id="allocation">')[1].split("</section>")[0]  # its chart


def test_no_section_under_fixed_weights(tmp_path: Path) -> None:
    paths, _ = reports(tmp_path)
    assert 'id="allocation"' not in paths["html"].read_text()
    md = paths["md"].read_text()
    assert "## Allocation" not in md and "allocation_targets" not in md


@pytest.mark.skipif(FOUND is None and not REQUIRED, reason="needs chromium and chromedriver")
@pytest.mark.parametrize("width", [1400, 420])
def test_the_section_in_a_browser(allocated, tmp_path: Path, width: int) -> None:
    paths = allocated[0]
    driver = WebDriver(*FOUND, tmp_path / "profile")
    try:
        driver.emulate(width, 900, 1 if width > 1000 else 2, mobile=width < 1000)
        driver.open(paths["html"].as_uri())
        assert [e for e in driver.console() if e.get("level") == "SEVERE"] == []
        overflow = driver.run("return document.documentElement.scrollWidth - window.innerWidth;")
        assert overflow <= 0, f"the page is {overflow}px wider than {width}px"
        shown = driver.run("return [...document.querySelectorAll('#allocation svg.chart')]"
                           ".filter(s => s.getBoundingClientRect().width > 0).length;")
        assert shown == 1  # the wide or the narrow drawing, not both
        fits = driver.run("return [...document.querySelectorAll('#allocation svg.chart')]"
                          ".every(c => c.getBoundingClientRect().right <= window.innerWidth);")
        assert fits
        shot = driver.screenshot(tmp_path / f"allocation-{width}.png").read_bytes()
        assert shot.startswith(PNG) and len(shot) > 20_000
    finally:
        driver.quit()
