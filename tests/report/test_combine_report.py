"""The report of a combination search: HTML and Markdown from the warehouse, what each section
shows, names escaped, and a map of thousands of subsets kept small."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from sqlorch import CombinationSearch, OrchestratorConfig
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.report import charts
from sqlorch.report.combine import (
    combination_report_context,
    is_combination_run,
    render_combination,
    write_combination_reports,
)
from sqlorch.store.warehouse import Warehouse
from sqlorch.strategies import BuyAndHold, Momentum, RSIStrategy, SMACross


class Hostile(RSIStrategy):
    """RSI under a name that would run script if the report did not escape it."""

    name = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    home = tmp_path_factory.mktemp("combine-report")
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=None, allocation_lookback=20,
                                max_weight=0.9)
    line_up = [(SMACross(fast=5, slow=20), Decimal("0.4")), (Momentum(lookback=10), Decimal("0.3")),
               (Hostile(), Decimal("0.2")), (BuyAndHold(), Decimal("0.1"))]
    result = CombinationSearch(line_up, config, policies=["fixed", "risk_parity"], workers=1).run(
        synthetic_bars(symbols=3, years=1, seed=3))
    return home, result


def test_the_context_reads_the_search_from_the_warehouse(searched):
    _, result = searched
    context = combination_report_context(result.warehouse, result.run_id, top=5)
    assert is_combination_run(result.warehouse, result.run_id)
    assert [r["rank"] for r in context["ranked"]] == [1, 2, 3, 4, 5]
    assert context["ranked"][0]["strategies"] == result.best["strategies"]
    assert context["counts"] == {"completed": 26, "failed": 0, "skipped": 4}  # risk_parity alone: max_weight 0.9
    assert [p["policy"] for p in context["by_policy"]] == ["fixed", "risk_parity"]
    assert list(context["alone"]) == ["sma_cross", "momentum", Hostile.name, "buy_and_hold"]
    matrix = np.array(context["correlation"]["matrix"])
    assert matrix.shape == (4, 4) and np.allclose(np.diag(matrix), 1.0) and np.allclose(matrix, matrix.T)
    assert context["errors"][0]["count"] == 4 and context["errors"][0]["status"] == "skipped"


def test_html_and_markdown_reports(searched):
    home, result = searched
    paths = write_combination_reports(result.warehouse, result.run_id, home / "reports", top=3)
    html, md = paths["html"].read_text(), paths["md"].read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<svg") >= 4  # the map and the heatmap, each wide and narrow
    assert "CAGR against volatility of every subset and policy" in html
    assert "correlation of the strategies&#39; daily returns alone" in html
    assert md.startswith(f"# sqlorch combinations {result.run_id}") and "## Top 3" in md
    assert "<svg" not in md and f"[{result.run_id}.html]({result.run_id}.html)" in md
    assert "## Correlation of daily returns alone" in md and "| 1.00 |" in md
    assert "4 × skipped" in md


def test_a_report_for_an_unknown_search_is_an_error(searched):
    from sqlorch.errors import SqlorchError

    _, result = searched
    assert not is_combination_run(result.warehouse, "nope")
    with pytest.raises(SqlorchError, match="nope"):
        combination_report_context(result.warehouse, "nope")


def test_the_map_of_thousands_of_subsets_stays_small():
    """4,096 subsets: points on one spot of the drawing are drawn once, coordinates rounded."""
    rng = np.random.default_rng(1)
    points = list(zip(rng.uniform(0.05, 0.12, 4096), rng.uniform(-0.02, 0.15, 4096)))
    top = [(0.08, 0.14, f"top {k}") for k in range(10)]
    svg = charts.risk_return_chart(points, top, [(0.1, 0.1, "alone")], "map", "volatility", "CAGR")
    assert len(svg) < 150_000  # spread over the whole drawing: under 40 bytes a point
    clustered = list(zip(rng.uniform(0.08, 0.081, 4096), rng.uniform(0.10, 0.101, 4096)))
    dense = charts.risk_return_chart(clustered + [(0.05, 0.0), (0.12, 0.15)], [], [], "map", "volatility", "CAGR")
    assert dense.count("<circle") < 12  # 4,098 subsets on a few spots: a few circles
    assert svg.count("<rect") == 1 and ">alone</text>" in svg
    assert charts.risk_return_chart([], [], [], "map", "x", "y").count("no data") == 1


def test_render_refuses_an_unknown_format(searched):
    from sqlorch.errors import SqlorchError

    _, result = searched
    with pytest.raises(SqlorchError, match="unknown report format"):
        render_combination(combination_report_context(result.warehouse, result.run_id), "pdf")


def test_result_report_writes_the_combination_report(searched, tmp_path: Path):
    _, result = searched
    path = result.report(tmp_path / "c.md")
    assert path.read_text().startswith("# sqlorch combinations")
    assert Warehouse(result.warehouse.path).query("SELECT count(*) AS n FROM combination_curves")["n"][0] == 4 * 252
