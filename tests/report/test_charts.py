"""The SVG chart helpers: axis ticks, number formats, paths, legends and the empty cases."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from sqlorch.report import charts
from sqlorch.report.filters import money, num, pct, shade, sign, when


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert charts.nice_ticks(-0.1234, 0.587, 6) == [-0.2, 0.0, 0.2, 0.4, 0.6]
    assert charts.nice_ticks(0.0, 1.0, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert charts.nice_ticks(-0.105, 0.0, 6) == [-0.125, -0.1, -0.075, -0.05, -0.025, 0.0]
    flat = charts.nice_ticks(0.05, 0.05, 5)
    assert flat[0] < 0.05 < flat[-1]
    assert charts.nice_ticks(math.nan, 1.0, 5) == [0.0]


@pytest.mark.parametrize("step, value, text", [
    (0.1, 0.3, "30%"), (0.025, -0.075, "-7.5%"), (0.0025, 0.0075, "0.75%"), (0.05, -0.0, "0%"),
    (0.0001, 0.123456, "12.35%"), (0.2, 1e-17, "0%"),
])
def test_percent_axis_shows_as_many_decimals_as_the_step_needs(step, value, text) -> None:
    assert charts.percent_axis(step)(value) == text


def _labels(start: str, end: str, count: int) -> list[str]:
    return [label for _, label in charts.time_ticks(np.datetime64(start), np.datetime64(end), count)]


def test_time_ticks_follow_the_calendar() -> None:
    assert _labels("2023-01-02", "2024-12-05", 8) == ["Apr 2023", "Jul 2023", "Oct 2023", "Jan 2024", "Apr 2024",
                                                      "Jul 2024", "Oct 2024"]
    assert _labels("2023-01-02", "2024-12-05", 3) == ["Jul 2023", "Jan 2024", "Jul 2024"]
    assert _labels("2010-01-01", "2020-01-01", 6) == ["2010", "2012", "2014", "2016", "2018", "2020"]
    assert _labels("2024-03-01", "2024-03-20", 4) == ["04 Mar", "11 Mar", "18 Mar"]  # Mondays
    assert _labels("2024-03-01T09:30", "2024-03-01T16:00", 2) == ["01 Mar 12:00"]
    assert _labels("2024-03-01T09:30", "2024-03-01T16:00", 4) == ["01 Mar 10:00", "01 Mar 12:00", "01 Mar 14:00",
                                                                  "01 Mar 16:00"]
    assert _labels("2024-03-01", "2024-03-01", 4) == ["01 Mar"]
    assert len(_labels("1900-01-01", "2100-01-01", 3)) <= 21  # very long spans still end


def test_line_chart_draws_every_point_and_breaks_at_gaps() -> None:
    x = np.arange("2024-01-01", "2024-01-11", dtype="datetime64[D]").astype("datetime64[us]")
    y = np.array([0.0, 0.01, 0.02, np.nan, 0.01, 0.0, -0.01, np.inf, 0.02, 0.03])
    svg = str(charts.line_chart([charts.Series("a & b", "#123456", x, y)], "Test <chart>"))
    path = re.search(r'<path d="([^"]+)"', svg).group(1)
    assert path.count("M") == 3 and path.count("L") == 5  # 8 finite points in 3 pieces
    assert "<title>Test &lt;chart&gt;</title>" in svg and 'class="legend">a &amp; b<' in svg
    assert "<title>a &amp; b: 3.00%</title>" in svg  # the last finite value


def test_charts_without_data_say_so() -> None:
    x = np.array([], dtype="datetime64[us]")
    for svg in (charts.line_chart([charts.Series("a", "#000", x, np.array([]))], "Empty"),
                charts.bar_chart(["a"], [None], ["#000"], "Empty"), charts.heatmap([], [], "Empty")):
        assert ">no data</text>" in str(svg)


def test_bar_chart_puts_negative_values_left_of_zero() -> None:
    svg = str(charts.bar_chart(["win", "loss", "portfolio"], [0.1, -0.05, 0.05], ["#1", "#2", "#3"], "Bars",
                               emphasize_last=True))
    rects = [(float(x), float(w)) for x, w in re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)]
    zero = rects[1][0] + rects[1][1]  # the loss bar ends at zero
    assert rects[0][0] == pytest.approx(zero, abs=0.05) and rects[2][0] == pytest.approx(zero, abs=0.05)
    assert rects[0][1] == pytest.approx(2 * rects[1][1], rel=1e-3)
    assert ">-5.00%</text>" in svg and 'font-weight="600">portfolio<' in svg


def test_heatmap_colours_and_undefined_cells() -> None:
    svg = str(charts.heatmap(["a", "b"], [[1.0, None], [None, 1.0]], "Heat"))
    assert svg.count(">n/a</text>") == 2 and svg.count(">1.00</text>") == 2
    assert charts.diverging_color(1.0) == "#b2182b" and charts.diverging_color(-1.0) == "#2166ac"
    assert charts.diverging_color(0.0) == "#ffffff" and charts.diverging_color(None) == "#dddddd"
    assert 'style="max-width:' in svg  # drawn at its natural size, never blown up


def test_palette_and_dashes_repeat_distinguishably() -> None:
    styles = {(charts.color_of(i), charts.dash_of(i)) for i in range(len(charts.PALETTE) * len(charts.DASHES))}
    assert len(styles) == len(charts.PALETTE) * len(charts.DASHES)


def test_responsive_pairs_two_drawings() -> None:
    both = str(charts.responsive(charts.Markup("<svg>w</svg>"), charts.Markup("<svg>n</svg>")))
    assert both == '<div class="chart-wide"><svg>w</svg></div><div class="chart-narrow"><svg>n</svg></div>'


@pytest.mark.parametrize("value, text", [
    (0.1234, "12.34%"), (-0.00001, "0.00%"), (None, "\u2013"), (math.nan, "\u2013"), (math.inf, "\u221e"),
    (-math.inf, "-\u221e"),
])
def test_pct(value, text) -> None:
    assert pct(value) == text


def test_other_filters() -> None:
    assert num(1234.5678) == "1,234.57" and num(-0.001) == "0.00" and money(-3000) == "-3,000.00"
    assert sign(-0.01) == "neg" and sign(-0.00001) == "" and sign(None) == "" and sign(0.2) == ""
    assert shade(None) == "transparent" and shade(0.2) == "rgba(27,120,55,0.45)"
    assert shade(-0.05) == "rgba(178,24,43,0.23)"
    import datetime as dt

    assert when(dt.datetime(2024, 1, 2)) == "2024-01-02" and when(dt.datetime(2024, 1, 2, 9, 30)) == "2024-01-02 09:30"
    assert when(None) == "\u2013"


def test_log_ticks_are_one_two_five_decades_covering_the_range() -> None:
    assert charts.log_ticks(0.5, 6.0, 6) == [0.5, 1.0, 2.0, 5.0, 10.0]
    assert charts.log_ticks(0.9, 145.0, 6) == [0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0]
    assert charts.log_ticks(0.2, 3000.0, 6) == [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]
    wide = charts.log_ticks(0.01, 1e7, 5)
    assert wide[0] <= 0.01 and wide[-1] >= 1e7 and len(wide) <= 6
    assert [charts.multiple_axis(1)(v) for v in (0.5, 1, 20, 1000)] == ["0.5x", "1x", "20x", "1,000x"]


def test_equity_turns_logarithmic_beyond_five_times() -> None:
    x = np.arange("2020-01-01", "2020-01-05", dtype="datetime64[D]")

    def returns(*ys: float) -> list[charts.Series]:
        return [charts.Series("a", "#000", x, np.array(ys))]

    assert not charts.spans_decades(returns(0.0, 1.0, 3.9, 2.0))  # 1x to 4.9x
    assert charts.spans_decades(returns(0.0, 1.0, 4.1, 2.0))  # to 5.1x
    assert charts.spans_decades(returns(0.0, -0.85, -0.5, 0.0))  # 0.15x to 1x
    assert not charts.spans_decades(returns(0.0, -1.0, 9.0, 2.0))  # a wiped-out sleeve: no log of 0
    svg = charts.line_chart([charts.Series("a", "#000", x, np.array([1.0, 10.0, 100.0, 50.0]))], "t",
                            y_format=charts.multiple_axis, log=True)
    ticks = re.findall(r'class="tick">([^<]+)<', svg)
    assert {"1x", "10x", "100x"} <= set(ticks)
    heights = {label: float(y) for y, label in re.findall(r'y="([\d.]+)" text-anchor="end"[^>]*class="tick">([^<]+)<',
                                                           svg)}
    assert heights["1x"] - heights["10x"] == pytest.approx(heights["10x"] - heights["100x"], abs=0.2)  # decades equal


def test_strip_chart_shades_each_span_by_its_share() -> None:
    x = np.array(["2020-01-31", "2020-02-28", "2020-03-31"], dtype="datetime64[D]")
    svg = charts.strip_chart([("a", x, np.array([0.0, 0.5, 1.0])), ("b", x, np.array([1.0, np.nan, 0.0])),
                              ("empty", x[:0], np.array([]))], "usage")
    tips = re.findall(r"<title>([^<]+)</title>", svg)
    assert "a, to 2020-02-28: 50%" in tips and "b, to 2020-02-28: n/a" in tips
    assert not any(t.startswith("empty") for t in tips)
    fills = re.findall(r'fill="(#[0-9a-f]{6})"><title>a,', svg)
    assert fills == [charts.sequential_color(0.0), charts.sequential_color(0.5), charts.sequential_color(1.0)]
    assert "no data" in charts.strip_chart([], "usage")
