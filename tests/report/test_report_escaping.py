"""Hostile strategy names in the reports: in HTML they show as text (autoescape, and every
label drawn into the SVG charts is escaped); in Markdown they cannot open raw HTML or break
a table row."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from sqlorch import OrchestratorConfig, Signal, StrategyOrchestrator
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.report.filters import md_cell
from sqlorch.report.run import write_reports
from sqlorch.store.warehouse import Warehouse

HOSTILE = [
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "</svg><svg onload=alert(2)>",
    "a|b *c* [d](javascript:e) `f`",
    "&amp; <b>bold</b> ünï",
]
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "p", "h1", "h2", "h3", "span",
                "nav", "a", "div", "dl", "dt", "dd", "section", "table", "thead", "tbody", "tr", "th", "td",
                "figure", "figcaption", "svg", "line", "text", "rect", "path", "ul", "li", "strong", "pre", "code",
                "footer", "wbr"}


class Trader:
    """Buys one symbol at bar `start` (so the names show up in decisions, charts and conflicts)."""

    def __init__(self, name: str, symbol: str, start: int):
        self.name, self.symbol, self.start = name, symbol, start

    def on_bar(self, ctx):
        return [Signal.buy(self.symbol, 0.9)] if ctx.t == self.start else None


class Page(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("hostile")
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=None)
    symbols = ["ALFA", "BRVO", "ALFA", "CHRL", "ALFA"]  # three sleeves on ALFA at bar 0: a conflict
    strategies = [(Trader(name, symbol, 0), Decimal("0.19")) for name, symbol in zip(HOSTILE, symbols)]
    result = StrategyOrchestrator(strategies, config).run(synthetic_bars(symbols=3, years=1, seed=9))
    paths = write_reports(Warehouse(config.warehouse), result.run_id, home)
    return {fmt: path.read_text() for fmt, path in paths.items()}


def test_html_has_no_markup_from_the_names(reports) -> None:
    page = Page(reports["html"])
    tags = {tag for tag, _ in page.tags}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    handlers = [(tag, name) for tag, attrs in page.tags for name, _ in attrs if name.startswith("on")]
    assert handlers == []
    hrefs = {value for tag, attrs in page.tags if tag == "a" for name, value in attrs if name == "href"}
    assert all(href.startswith("#") for href in hrefs)
    assert "svg" in tags and "script" not in tags and "img" not in tags


def test_html_shows_each_name_as_text(reports) -> None:
    text = "".join(Page(reports["html"]).text)
    for name in HOSTILE:
        assert name in text, name  # the reader sees the name itself, in the tables
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in reports["html"]
    assert "<script" not in reports["html"].lower()


def test_svg_labels_are_escaped(reports) -> None:
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", reports["html"], flags=re.S)
    assert len(svgs) == 10
    for svg in svgs:
        inner = svg[svg.index(">") + 1:-len("</svg>")]
        assert "<svg" not in inner and "<script" not in inner and "<img" not in inner
    legend = re.findall(r'class="legend">([^<]*)<', svgs[0])
    assert legend[0] == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    assert legend[1] == "&#34;&gt;&lt;img src=x onerror=alert(\u2026"  # cut before escaping: no broken entity
    assert "<title>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;: " in svgs[0]


def test_markdown_cells_cannot_open_html_or_split_rows(reports) -> None:
    md = reports["md"]
    assert "<script" not in md and "<img" not in md and "<svg" not in md and "<b>" not in md
    comparison = md.split("## Comparison", 1)[1].split("\n\n", 2)[1].splitlines()
    for line in comparison:
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        assert len(cells) == 10, line
    assert "| a\\|b \\*c\\* \\[d\\](javascript:e) \\`f\\` |" in md
    assert "&amp;amp; &lt;b&gt;bold&lt;/b&gt; ünï" in md


@pytest.mark.parametrize("text, expected", [
    ("plain_name", "plain_name"),
    ("a|b", "a\\|b"),
    ("<i>x</i>", "&lt;i&gt;x&lt;/i&gt;"),
    ("two\nlines\r", "two lines "),
    ("back\\slash", "back\\\\slash"),
])
def test_md_cell(text: str, expected: str) -> None:
    assert md_cell(text) == expected


def test_names_reach_the_conflict_summary_escaped(reports) -> None:
    conflicts = reports["html"].split("<h3>Conflicts</h3>", 1)[1].split("<h3>Rebalances</h3>", 1)[0]
    assert "&lt;script&gt;" in conflicts and "<script" not in conflicts
