"""The run report with a benchmark: its bought-and-held line on the equity chart (grey, dashed,
labelled with its symbol, on the run's initial capital) and alpha, beta, tracking error and
information ratio in the comparison; none of it without a benchmark."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from sqlorch import OrchestratorConfig, StrategyOrchestrator
from sqlorch.report import charts
from sqlorch.report.run import render, report_context
from sqlorch.strategies import BuyAndHold

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def context_of(**settings):
    result = StrategyOrchestrator([(BuyAndHold(), Decimal("1"))], OrchestratorConfig(
        initial_capital=Decimal(20000), warehouse=None, log_dir=None, **settings)).run(str(GOLDEN / "two_symbols.csv"))
    return report_context(result.warehouse, result.run_id)


def test_the_benchmark_bought_and_held_on_the_run_capital() -> None:
    context = context_of(benchmark_path=str(GOLDEN / "IDX.csv"), risk_free_rate=0.02)
    held = context["benchmark"]
    assert set(held["symbol"]) == {"IDX"}
    # from its first close on the clock (4000.00 on the third bar) to the last bar's (4097.30)
    assert held["ts"][0].isoformat() == "2024-01-04T00:00:00" and held.height == 18
    assert held["equity"][0] == 20000.0 and abs(held["equity"][-1] - 20000 * 4097.3 / 4000) < 1e-9
    page = render(context, "html")
    dashed = f'stroke="{charts.BENCHMARK_COLOR}" stroke-width="1.5" stroke-dasharray="{charts.BENCHMARK_DASH}"'
    assert dashed in page and re.search(r'class="legend">IDX<', page)
    assert "IDX (grey, dashed): the\n    whole capital put into the benchmark" in page
    for title in ("Alpha", "Beta", "Tracking error", "Information ratio"):
        assert f'<th class="num minor">{title}</th>' in page
    assert "risk-free rate\n  2.00% a year" in page or "risk-free rate 2.00% a year" in " ".join(page.split())
    summary = render(context, "md")
    assert "Against IDX bought and held (risk-free rate 2.00% a year" in summary
    assert "| strategy | alpha | beta | tracking error | information ratio |" in summary


def test_without_a_benchmark_nothing_of_it() -> None:
    context = context_of()
    assert context["benchmark"] is None
    page, summary = render(context, "html"), render(context, "md")
    assert "Alpha" not in page and "Tracking error" not in page and charts.BENCHMARK_COLOR not in page
    assert "grey, dashed" not in page
    assert "alpha" not in summary and "Against" not in summary
