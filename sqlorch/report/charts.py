"""Inline SVG charts for the HTML report, drawn from the data (no plotting server, no script).

Every function returns `markupsafe.Markup` holding one `<svg>`, built with `Markup.format`,
which escapes every value put into it: titles, strategy names and labels reach the SVG as
text, so a strategy called `<script>` shows as text. Charts use a fixed coordinate system
(`viewBox`) and scale to their box; `responsive` pairs a wide and a narrow drawing so that a
phone gets readable labels.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup

# Okabe-Ito: distinguishable with colour-blindness and still apart when printed; the
# portfolio is drawn in near-black, thicker.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D31", "#7F7F7F")
DASHES = ("", "6 3", "2 2", "8 3 2 3")  # cycles after the palette, for more strategies than colours
PORTFOLIO_COLOR = "#1a1a1a"
BENCHMARK_COLOR, BENCHMARK_DASH = "#9a9a9a", "5 4"  # the benchmark bought and held: grey, dashed
GRID = "#e3e3e3"
AXIS = "#8a8a8a"
INK = "#333333"
POSITIVE, NEGATIVE = "#1b7837", "#b2182b"


def color_of(index: int) -> str:
    """The colour of the strategy at list position `index` (0-based)."""
    return PALETTE[index % len(PALETTE)]


def dash_of(index: int) -> str:
    """The dash pattern of the strategy at `index` ('' = solid)."""
    return DASHES[(index // len(PALETTE)) % len(DASHES)]


@dataclass(frozen=True)
class Size:
    """A drawing size: width and height in user units, font size, and how many axis ticks."""

    width: int
    height: int
    font: float
    x_ticks: int
    y_ticks: int
    label_chars: int  # longest label before it is shortened with an ellipsis


WIDE = Size(760, 330, 12, 8, 6, 28)
NARROW = Size(360, 290, 11, 3, 5, 16)


@dataclass(frozen=True)
class Series:
    """One line: its name (legend), colour, dash, width, x (datetime64) and y (float) values."""

    name: str
    color: str
    x: np.ndarray
    y: np.ndarray
    width: float = 1.6
    dash: str = ""


def responsive(wide: Markup, narrow: Markup) -> Markup:
    """Both drawings of a chart; the page's CSS shows the narrow one on small screens."""
    return Markup('<div class="chart-wide">{}</div><div class="chart-narrow">{}</div>').format(wide, narrow)


# -- number and date formatting ----------------------------------------------------------------


def percent_axis(step: float) -> Callable[[float], str]:
    """A tick formatter for fractions shown as percent, with as many decimals as `step` needs."""
    points = abs(step) * 100
    decimals = next((d for d in range(5) if abs(round(points, d) - points) < 1e-9 * max(points, 1)), 4)

    def fmt(value: float) -> str:
        text = f"{value * 100:.{decimals}f}%"
        return "0%" if float(text[:-1]) == 0 else text

    return fmt


def nice_ticks(low: float, high: float, count: int) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [low, high], about `count` of them."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high - low < 1e-12:
        pad = abs(high) * 0.05 or 0.01
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks, value = [], first
    while value < high + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


def multiple_axis(step: float) -> Callable[[float], str]:
    """A tick formatter for growth multiples on a log axis: 0.5x, 1x, 20x, 1000x."""
    def fmt(value: float) -> str:
        return f"{value:.3g}x" if value < 100 else f"{value:,.0f}x"

    return fmt


def log_ticks(low: float, high: float, count: int) -> list[float]:
    """Ticks for a logarithmic axis covering [low, high] (both > 0): 1, 2 and 5 x 10^k where
    they fit about `count` ticks, else 1 x 10^k, else every so many powers of ten; always
    reaching from a tick at or below `low` to one at or above `high`."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        values = [float(f"{m}e{e}") for e in range(first, last + 1) for m in mantissas]
        below = max((v for v in values if v <= low * (1 + 1e-9)), default=values[0])
        above = min((v for v in values if v >= high * (1 - 1e-9)), default=values[-1])
        ticks = [v for v in values if below <= v <= above]
        if len(ticks) <= count + 1:
            return ticks
    every = math.ceil((last - first) / max(count - 1, 1))
    return [10.0 ** e for e in range(first, last + every, every)]


_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)
_SECOND_STEPS = (3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400)


def time_ticks(start: np.datetime64, end: np.datetime64, count: int) -> list[tuple[np.datetime64, str]]:
    """Calendar-aligned ticks (hours, days, weeks, months, years) between start and end, at
    most about `count`, with labels."""
    t0, t1 = start.astype("datetime64[s]"), end.astype("datetime64[s]")
    span = float((t1 - t0) / np.timedelta64(1, "s"))
    if span <= 0:
        return [(t0, _date_label(t0, 86400))]
    if span > 60 * 86400:
        for months in _MONTH_STEPS:
            ticks = _month_ticks(t0, t1, months)
            if len(ticks) <= count:
                return [(t, _month_label(t, months)) for t in ticks]
        return [(t, _month_label(t, 120)) for t in _month_ticks(t0, t1, 120)]
    for seconds in _SECOND_STEPS:
        if span / seconds <= count:
            break
    offset = 4 * 86400 if seconds == 7 * 86400 else 0  # weeks start on Monday (1970-01-05)
    first = math.ceil((t0.astype(np.int64) - offset) / seconds) * seconds + offset
    values = np.arange(first, t1.astype(np.int64) + 1, seconds).astype("datetime64[s]")
    return [(t, _date_label(t, seconds)) for t in values]


def _month_ticks(t0: np.datetime64, t1: np.datetime64, months: int) -> list[np.datetime64]:
    first = t0.astype("datetime64[M]")
    if first.astype("datetime64[s]") < t0:
        first += 1
    index = first.astype(np.int64)
    index += (-index) % months
    return [m.astype("datetime64[s]") for m in np.arange(index, t1.astype("datetime64[M]").astype(np.int64) + 1,
                                                          months).astype("datetime64[M]")]


def _month_label(t: np.datetime64, months: int) -> str:
    day = t.astype(dt.datetime)
    return f"{day:%Y}" if months >= 12 else f"{day:%b %Y}"


def _date_label(t: np.datetime64, seconds: int) -> str:
    moment = t.astype(dt.datetime)
    return f"{moment:%d %b}" if seconds >= 86400 else f"{moment:%d %b %H:%M}"


# -- drawing helpers -----------------------------------------------------------------------------


def _svg_open(size: Size, title: str, height: float | None = None, width: float | None = None) -> Markup:
    """The opening tag; with `width`, the drawing is that wide and never scaled up beyond it."""
    fixed = Markup(' style="max-width:{:.0f}px"').format(width) if width else Markup("")
    return Markup('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0f} {h:.0f}" width="{w:.0f}" '
                  'height="{h:.0f}" role="img" aria-label="{t}" font-size="{f:g}" class="chart"{fixed}>'
                  '<title>{t}</title>').format(w=width or size.width, h=height or size.height, t=title,
                                                f=size.font, fixed=fixed)


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK,
          extra: Markup = Markup("")) -> Markup:
    """A `<text>` element; `text` is escaped, `extra` (trusted attributes) is not."""
    return Markup('<text x="{:.1f}" y="{:.1f}" text-anchor="{}" fill="{}"{}>{}</text>').format(
        x, y, anchor, fill, extra, text)


def shorten(name: str, chars: int) -> str:
    """`name` cut to `chars` characters with an ellipsis."""
    return name if len(name) <= chars else name[: max(chars - 1, 1)] + "\u2026"


def _text_width(text: str, font: float) -> float:
    """A generous estimate of the width of `text` in a sans-serif system font."""
    return 0.64 * font * len(text)


def _legend(series: Sequence[tuple[str, str, float, str]], size: Size, left: float, top: float) -> tuple[Markup, float]:
    """Legend items (name, colour, width, dash) in rows; returns the markup and its height."""
    parts, x, y, row = [], left, top, size.font * 1.6
    for name, color, width, dash in series:
        label = shorten(name, size.label_chars)
        item = 22 + _text_width(label, size.font) + 18
        if x > left and x + item > size.width - 8:
            x, y = left, y + row
        parts.append(Markup('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="{:g}"'
                            ' stroke-dasharray="{}"/>').format(x, y - size.font * 0.35, x + 18, y - size.font * 0.35,
                                                              color, max(width, 2), dash))
        parts.append(_text(x + 22, y, label, extra=Markup(' class="legend"')))
        x += item
    return Markup("").join(parts), (y - top) + row


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """An SVG path through the points, broken where y is not finite."""
    finite = np.isfinite(ys)
    parts, pen_down = [], False
    for x, y, ok in zip(xs.tolist(), ys.tolist(), finite.tolist()):
        if not ok:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        pen_down = True
    return "".join(parts)


def empty_chart(title: str, size: Size, message: str = "no data") -> Markup:
    """A framed placeholder saying why there is nothing to draw."""
    height = 80
    return (_svg_open(size, title, height) + _text(size.width / 2, height / 2, message, "middle", AXIS)
            + Markup("</svg>"))


# -- charts ----------------------------------------------------------------------------------------


LOG_ABOVE = 5.0
"""Growth curves are drawn on a log scale when their highest and lowest values (as multiples of
the starting capital) are further apart than this factor."""


def spans_decades(returns: Sequence[Series]) -> bool:
    """Whether lines of returns on starting capital need a log scale: every value above -100%
    (a multiple > 0) and the multiples spanning more than `LOG_ABOVE`."""
    values = [s.y[np.isfinite(s.y)] for s in returns if np.isfinite(s.y).any()]
    if not values:
        return False
    multiples = np.concatenate(values) + 1
    low, high = min(float(multiples.min()), 1.0), max(float(multiples.max()), 1.0)
    return low > 0 and high / low > LOG_ABOVE


def line_chart(series: Sequence[Series], title: str, size: Size = WIDE,
               y_format: Callable[[float], Callable[[float], str]] = percent_axis,
               include_zero: bool = True, log: bool = False) -> Markup:
    """Lines over time on one pair of axes: calendar x axis, nice y ticks, grid, legend on top.

    `y_format(step)` returns the tick formatter; values that are not finite break the line.
    With `log`, the y axis is logarithmic (every value must be > 0; `include_zero` then means
    including 1, the start of a growth multiple) and `y_format` should suit multiples.
    """
    drawn = [s for s in series if len(s.x) and np.isfinite(s.y).any()]
    if not drawn:
        return empty_chart(title, size)
    x_all = np.concatenate([s.x.astype("datetime64[s]") for s in drawn])
    y_all = np.concatenate([s.y[np.isfinite(s.y)] for s in drawn])
    x0, x1 = x_all.min(), x_all.max()
    low, high = float(y_all.min()), float(y_all.max())
    origin = 1.0 if log else 0.0
    if include_zero:
        low, high = min(low, origin), max(high, origin)
    ticks = log_ticks(low, high, size.y_ticks) if log else nice_ticks(low, high, size.y_ticks)
    low, high = min(ticks[0], low), max(ticks[-1], high)
    scale = np.log10 if log else np.asarray
    low_at, high_at = float(scale(low)), float(scale(high))
    high_at += 0.0 if high_at > low_at else 1.0
    fmt = y_format(ticks[1] - ticks[0] if len(ticks) > 1 else abs(high) or 1.0)
    exact = y_format(0.0001)  # the last value, in the line's tooltip

    entries = list(dict.fromkeys((s.name, s.color, s.width, s.dash) for s in drawn))  # lines alike: one entry
    legend, legend_height = _legend(entries, size, 8, size.font + 6)
    left = max(_text_width(fmt(t), size.font) for t in ticks) + 14
    top, right, bottom = legend_height + 12, 14, size.font + 14
    plot_w, plot_h = size.width - left - right, size.height - top - bottom
    span = max(float((x1 - x0) / np.timedelta64(1, "s")), 1.0)

    def px(x: np.ndarray) -> np.ndarray:
        return left + (x.astype("datetime64[s]") - x0).astype(np.float64) / span * plot_w

    pad = 4.0  # keeps a line at the top or bottom tick off the frame

    def py(y: np.ndarray | float) -> np.ndarray:
        at = scale(np.asarray(y, dtype=np.float64))
        return top + pad + (high_at - at) / (high_at - low_at) * (plot_h - 2 * pad)

    out = [_svg_open(size, title), legend]
    for tick in ticks:
        y = float(py(tick))
        stroke = AXIS if tick == origin else GRID
        out.append(Markup('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}"/>').format(
            left, y, left + plot_w, y, stroke))
        out.append(_text(left - 6, y + size.font * 0.35, fmt(tick), "end", extra=Markup(' class="tick"')))
    for moment, label in time_ticks(x0, x1, size.x_ticks):
        x = float(px(np.array([moment]))[0])
        out.append(Markup('<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="{3}"/>').format(
            x, top, top + plot_h + 4, GRID))
        out.append(_text(x, top + plot_h + size.font + 6, label, "middle", extra=Markup(' class="tick"')))
    out.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="{}"/>').format(
        left, top, plot_w, plot_h, AXIS))
    for s in drawn:
        last = s.y[np.isfinite(s.y)][-1]
        out.append(Markup('<path d="{}" fill="none" stroke="{}" stroke-width="{:g}" stroke-dasharray="{}" '
                          'stroke-linejoin="round"><title>{}: {}</title></path>').format(
            _path(px(s.x), py(s.y)), s.color, s.width, s.dash, s.name, exact(float(last))))
    out.append(Markup("</svg>"))
    return Markup("").join(out)


def bar_chart(labels: Sequence[str], values: Sequence[float], colors: Sequence[str], title: str,
              size: Size = WIDE, value_format: Callable[[float], str] | None = None,
              emphasize_last: bool = False) -> Markup:
    """Horizontal bars from a zero line, one row per label, each value written beside its bar.

    With `emphasize_last`, the last row (a total) is set apart by a rule and bold text.
    """
    rows = [(label, float(v), c) for label, v, c in zip(labels, values, colors) if v is not None and math.isfinite(v)]
    if not rows:
        return empty_chart(title, size)
    low, high = min(0.0, min(v for _, v, _ in rows)), max(0.0, max(v for _, v, _ in rows))
    ticks = nice_ticks(low, high, max(3, size.y_ticks - 1))
    low, high = min(ticks[0], low), max(ticks[-1], high)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    fmt = percent_axis(step)
    show = value_format or percent_axis(0.0001)
    names = [shorten(label, size.label_chars) for label, _, _ in rows]
    left = max(_text_width(n, size.font) for n in names) + 16
    value_room = max(_text_width(show(v), size.font) for _, v, _ in rows) + 10
    row_h, top = size.font * 2.2, 10
    plot_w = size.width - left - value_room * (2 if low < 0 else 1) - 8
    plot_left = left + (value_room if low < 0 else 0)
    height = top + row_h * len(rows) + size.font + 22

    def px(v: float) -> float:
        return plot_left + (v - low) / (high - low) * plot_w

    out = [_svg_open(size, title, height)]
    bottom = top + row_h * len(rows)
    for tick in ticks:
        x = px(tick)
        out.append(Markup('<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="{3}"/>').format(
            x, top, bottom, AXIS if tick == 0 else GRID))
        out.append(_text(x, bottom + size.font + 6, fmt(tick), "middle", extra=Markup(' class="tick"')))
    for i, ((label, value, color), name) in enumerate(zip(rows, names)):
        y = top + i * row_h
        bold = emphasize_last and i == len(rows) - 1
        weight = Markup(' font-weight="600"') if bold else Markup("")
        if bold:
            out.append(Markup('<line x1="0" y1="{0:.1f}" x2="{1}" y2="{0:.1f}" stroke="{2}"/>').format(
                y + 1, size.width, AXIS))
        x0, x1 = sorted((px(0.0), px(value)))
        out.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}">'
                          '<title>{}: {}</title></rect>').format(
            x0, y + row_h * 0.2, max(x1 - x0, 0.5), row_h * 0.6, color, label, show(value)))
        out.append(_text(left - 8, y + row_h / 2 + size.font * 0.35, name, "end", extra=weight))
        anchor, vx = ("start", x1 + 5) if value >= 0 else ("end", x0 - 5)
        out.append(_text(vx, y + row_h / 2 + size.font * 0.35, show(value), anchor,
                         NEGATIVE if value < 0 else INK, extra=weight))
    out.append(Markup("</svg>"))
    return Markup("").join(out)


def diverging_color(value: float | None) -> str:
    """Blue (-1) through white (0) to red (+1); grey when undefined."""
    if value is None or not math.isfinite(value):
        return "#dddddd"
    value = max(-1.0, min(1.0, value))
    end = (178, 24, 43) if value > 0 else (33, 102, 172)
    weight = abs(value)
    r, g, b = (round(255 + (c - 255) * weight) for c in end)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(labels: Sequence[str], matrix: Sequence[Sequence[float | None]], title: str,
            size: Size = WIDE) -> Markup:
    """A correlation matrix as coloured cells (blue -1, white 0, red +1) with the value in each.

    Rows carry the numbered labels, columns the numbers, so long names never crowd the top.
    """
    n = len(labels)
    if n == 0:
        return empty_chart(title, size)
    names = [f"{i + 1}  {shorten(label, size.label_chars)}" for i, label in enumerate(labels)]
    left = max(_text_width(name, size.font) for name in names) + 14
    cell = max(24.0, min(size.font * 4.6, (size.width - left - 10) / n))
    top = size.font + 14
    scale_top = top + cell * n + 18
    height = scale_top + 36
    scale_w = min(240.0, max(cell * n, 120.0))
    width = max(left + cell * n, left + scale_w) + 10
    out = [_svg_open(size, title, height, width)]
    for j in range(n):
        out.append(_text(left + (j + 0.5) * cell, top - 6, str(j + 1), "middle", extra=Markup(' class="tick"')))
    for i in range(n):
        y = top + i * cell
        out.append(_text(left - 8, y + cell / 2 + size.font * 0.35, names[i], "end"))
        for j in range(n):
            value = matrix[i][j]
            defined = value is not None and math.isfinite(value)
            shown = f"{value:.2f}" if defined else "n/a"
            ink = "#ffffff" if defined and abs(value) > 0.55 else INK
            tip = f"{labels[i]} / {labels[j]}: {shown}"
            out.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" stroke="#ffffff">'
                              '<title>{}</title></rect>').format(
                left + j * cell, y, cell, cell, diverging_color(value), tip))
            if cell >= 30:
                out.append(_text(left + (j + 0.5) * cell, y + cell / 2 + size.font * 0.35, shown, "middle", ink,
                                 Markup(' class="cell"')))
    steps = 20
    for k in range(steps):
        value = -1 + (k + 0.5) * 2 / steps
        out.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="10" fill="{}"/>').format(
            left + k * scale_w / steps, scale_top, scale_w / steps + 0.3, diverging_color(value)))
    for value, label, anchor in ((-1, "-1", "start"), (0, "0", "middle"), (1, "+1", "end")):
        out.append(_text(left + (value + 1) / 2 * scale_w, scale_top + 10 + size.font + 4, label, anchor,
                         extra=Markup(' class="tick"')))
    out.append(Markup("</svg>"))
    return Markup("").join(out)


# -- grid search -----------------------------------------------------------------------------------

# viridis at five stops: ordered from light to dark for every reader, and still apart in grey
SEQUENTIAL = ((253, 231, 37), (94, 201, 98), (33, 145, 140), (59, 82, 139), (68, 1, 84))


def sequential_color(share: float | None) -> str:
    """A colour from light (0) to dark (1); grey when undefined."""
    if share is None or not math.isfinite(share):
        return "#dddddd"
    share = max(0.0, min(1.0, share)) * (len(SEQUENTIAL) - 1)
    k = min(int(share), len(SEQUENTIAL) - 2)
    low, high = SEQUENTIAL[k], SEQUENTIAL[k + 1]
    weight = share - k
    r, g, b = (round(a + (c - a) * weight) for a, c in zip(low, high))
    return f"#{r:02x}{g:02x}{b:02x}"


def strip_chart(rows: Sequence[tuple[str, np.ndarray, np.ndarray]], title: str, size: Size = WIDE) -> Markup:
    """One horizontal strip per row (name, x as datetime64, shares in [0, 1]): each span of time a
    cell shaded from light (0) to dark (1), on a shared calendar axis, with a colour scale below.
    Readable for any number of years and rows, where overlapping lines are not."""
    rows = [(name, x, y) for name, x, y in rows if len(x)]
    if not rows:
        return empty_chart(title, size)
    x_all = np.concatenate([x.astype("datetime64[s]") for _, x, _ in rows])
    x0, x1 = x_all.min(), x_all.max()
    names = [shorten(name, size.label_chars) for name, _, _ in rows]
    left = max(_text_width(n, size.font) for n in names) + 14
    strip, gap, top = size.font * 1.9, 4.0, 6.0
    plot_w = size.width - left - 10
    axis_top = top + len(rows) * (strip + gap)
    scale_top = axis_top + size.font + 16
    height = scale_top + size.font + 20
    span = max(float((x1 - x0) / np.timedelta64(1, "s")), 1.0)

    def px(x: np.ndarray) -> np.ndarray:
        return left + (x.astype("datetime64[s]") - x0).astype(np.float64) / span * plot_w

    out = [_svg_open(size, title, height)]
    for i, (name, x, y) in enumerate(rows):
        y_top = top + i * (strip + gap)
        ends = px(x)  # a cell runs from the previous bucket's last bar to its own
        starts = np.concatenate([[float(left)], ends[:-1]])
        for a, b, share, moment in zip(starts.tolist(), ends.tolist(), y.tolist(), x.tolist()):
            tip = f"{name}, to {moment:%Y-%m-%d}: " + ("n/a" if share is None or not math.isfinite(share)
                                                        else f"{share:.0%}")
            out.append(Markup('<rect x="{:.2f}" y="{:.1f}" width="{:.2f}" height="{:.1f}" fill="{}">'
                              '<title>{}</title></rect>').format(a, y_top, max(b - a, 0.6), strip,
                                                                 sequential_color(share), tip))
        out.append(_text(left - 8, y_top + strip / 2 + size.font * 0.35, names[i], "end"))
    for moment, label in time_ticks(x0, x1, size.x_ticks):
        x = float(px(np.array([moment]))[0])
        out.append(Markup('<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="{3}"/>').format(
            x, axis_top - gap, axis_top + 2, AXIS))
        out.append(_text(x, axis_top + size.font + 4, label, "middle", extra=Markup(' class="tick"')))
    scale_w, steps = min(240.0, plot_w), 20
    for k in range(steps):
        out.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="10" fill="{}"/>').format(
            left + k * scale_w / steps, scale_top, scale_w / steps + 0.3, sequential_color((k + 0.5) / steps)))
    for share, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        out.append(_text(left + share * scale_w, scale_top + 10 + size.font + 4, f"{share:.0%}", anchor,
                         extra=Markup(' class="tick"')))
    out.append(Markup("</svg>"))
    return Markup("").join(out)


def _value_text(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def grid_heatmap(row_name: str, row_values: Sequence[object], column_name: str, column_values: Sequence[object],
                 matrix: Sequence[Sequence[float | None]], title: str, higher_is_better: bool = True,
                 best: tuple[int, int] | None = None, value_format: Callable[[float], str] = _value_text,
                 size: Size = WIDE) -> Markup:
    """A metric over two parameters: one cell per pair of values, darker = better, the best
    cell outlined; the value is written in each cell when there is room, and in its tooltip."""
    finite = [v for row in matrix for v in row if v is not None and math.isfinite(v)]
    if not row_values or not column_values or not finite:
        return empty_chart(title, size, "no completed combination to draw")
    low, high = min(finite), max(finite)

    def share(value: float | None) -> float | None:
        if value is None or not math.isfinite(value):
            return None
        fraction = (value - low) / (high - low) if high > low else 1.0
        return fraction if higher_is_better else 1 - fraction

    rows = [shorten(str(v), 10) for v in row_values]
    columns = [shorten(str(v), 10) for v in column_values]
    axis_room = size.font * 1.6
    left = axis_room + max(_text_width(r, size.font) for r in rows) + 10
    cell_w = max(8.0, min(size.font * 5.0, (size.width - left - 10) / len(columns)))
    cell_h = max(8.0, min(size.font * 2.4, cell_w))
    top = size.font * 3.2 + 6
    every = max(1, math.ceil(_text_width("0000", size.font) / cell_w))  # column labels that fit
    plot_h = cell_h * len(rows)
    scale_top = top + plot_h + 16
    height = scale_top + 10 + size.font + 14
    width = left + cell_w * len(columns) + 10
    out = [_svg_open(size, title, height, max(width, 240.0))]
    out.append(_text(left + cell_w * len(columns) / 2, size.font + 2, column_name, "middle",
                     extra=Markup(' font-weight="600"')))
    out.append(Markup('<text transform="translate({:.1f},{:.1f}) rotate(-90)" text-anchor="middle" fill="{}" '
                      'font-weight="600">{}</text>').format(size.font + 2, top + plot_h / 2, INK, row_name))
    for j, label in enumerate(columns):
        if j % every == 0:
            out.append(_text(left + (j + 0.5) * cell_w, top - 6, label, "middle", extra=Markup(' class="tick"')))
    room = cell_w >= _text_width("-0.00", size.font) + 4 and cell_h >= size.font + 4
    for i, label in enumerate(rows):
        y = top + i * cell_h
        if cell_h >= size.font or i % max(1, math.ceil(size.font / cell_h)) == 0:
            out.append(_text(left - 6, y + cell_h / 2 + size.font * 0.35, label, "end", extra=Markup(' class="tick"')))
        for j in range(len(columns)):
            value = matrix[i][j]
            fraction = share(value)
            shown = value_format(value) if value is not None and math.isfinite(value) else "n/a"
            tip = f"{row_name}={row_values[i]}, {column_name}={column_values[j]}: {shown}"
            out.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" stroke="#ffffff" '
                              'stroke-width="0.5"><title>{}</title></rect>').format(
                left + j * cell_w, y, cell_w, cell_h, sequential_color(fraction), tip))
            if room and value is not None:
                ink = "#ffffff" if fraction is not None and fraction > 0.55 else INK
                out.append(_text(left + (j + 0.5) * cell_w, y + cell_h / 2 + size.font * 0.35, shown, "middle", ink,
                                 Markup(' class="cell"')))
    if best is not None:
        out.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="{}" '
                          'stroke-width="2.5" class="best"><title>best</title></rect>').format(
            left + best[1] * cell_w + 1, top + best[0] * cell_h + 1, cell_w - 2, cell_h - 2, NEGATIVE))
    scale_w = min(240.0, max(cell_w * len(columns), 160.0))
    steps = 20
    for k in range(steps):
        out.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="10" fill="{}"/>').format(
            left + k * scale_w / steps, scale_top, scale_w / steps + 0.3, sequential_color((k + 0.5) / steps)))
    worst, best_value = (low, high) if higher_is_better else (high, low)
    tick = Markup(' class="tick"')
    out.append(_text(left, scale_top + 10 + size.font + 4, f"{value_format(worst)} worse", extra=tick))
    out.append(_text(left + scale_w, scale_top + 10 + size.font + 4, f"better {value_format(best_value)}", "end",
                     extra=tick))
    out.append(Markup("</svg>"))
    return Markup("").join(out)


def range_chart(labels: Sequence[object], means: Sequence[float | None], lows: Sequence[float | None],
                highs: Sequence[float | None], title: str,
                y_format: Callable[[float], Callable[[float], str]] = percent_axis, size: Size = NARROW) -> Markup:
    """One parameter's effect: for each of its values (x), the range of a metric over the other
    parameters (a vertical line from lowest to highest) and its mean (a dot, joined by a line)."""
    points = [(str(label), m, lo, hi) for label, m, lo, hi in zip(labels, means, lows, highs)
              if m is not None and math.isfinite(m)]
    if not points:
        return empty_chart(title, size)
    values = [v for _, m, lo, hi in points for v in (m, lo, hi) if v is not None and math.isfinite(v)]
    ticks = nice_ticks(min(values), max(values), size.y_ticks)
    low, high = min(ticks[0], min(values)), max(ticks[-1], max(values))
    if high == low:
        low, high = low - 1, high + 1
    fmt = y_format(ticks[1] - ticks[0] if len(ticks) > 1 else abs(high) or 1.0)
    exact = y_format(0.0001)
    left = max(_text_width(fmt(t), size.font) for t in ticks) + 14
    top, bottom, right = 10, size.font + 16, 10
    plot_w, plot_h = size.width - left - right, size.height - top - bottom
    step = plot_w / len(points)

    def py(y: float) -> float:
        return top + (high - y) / (high - low) * plot_h

    out = [_svg_open(size, title)]
    for tick in ticks:
        out.append(Markup('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}"/>').format(
            left, py(tick), left + plot_w, py(tick), AXIS if tick == 0 else GRID))
        out.append(_text(left - 6, py(tick) + size.font * 0.35, fmt(tick), "end", extra=Markup(' class="tick"')))
    every = max(1, math.ceil(_text_width("0000", size.font) / step))
    path = []
    for k, (label, mean, lo, hi) in enumerate(points):
        x = left + (k + 0.5) * step
        if lo is not None and hi is not None:
            out.append(Markup('<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="{3}" '
                              'stroke-width="2"/>').format(x, py(lo), py(hi), PALETTE[4]))
        out.append(Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}"><title>{}: mean {}, from {} to {}'
                          '</title></circle>').format(x, py(mean), PALETTE[0], label, exact(mean),
                                                      exact(lo) if lo is not None else "n/a",
                                                      exact(hi) if hi is not None else "n/a"))
        path.append(f"{'L' if path else 'M'}{x:.1f} {py(mean):.1f}")
        if k % every == 0:
            out.append(_text(x, top + plot_h + size.font + 6, shorten(label, 8), "middle",
                             extra=Markup(' class="tick"')))
    out.append(Markup('<path d="{}" fill="none" stroke="{}" stroke-width="1.2"/>').format("".join(path), PALETTE[0]))
    out.append(Markup("</svg>"))
    return Markup("").join(out)


SPOT = 5
"""Points of a scatter chart closer than this (in drawing units) are drawn as one."""


@dataclass(frozen=True)
class _Plane:
    """A scatter chart's drawing area: data (x, y) to drawing units by `px` and `py`."""

    left: float
    top: float
    width: float
    height: float
    x_low: float
    x_high: float
    y_low: float
    y_high: float

    def px(self, x: float) -> float:
        return self.left + (x - self.x_low) / (self.x_high - self.x_low) * self.width

    def py(self, y: float) -> float:
        return self.top + (self.y_high - y) / (self.y_high - self.y_low) * self.height


def _plane(xs: Sequence[float], ys: Sequence[float], x_ticks: list[float], y_ticks: list[float],
           x_show: Callable[[float], str], y_show: Callable[[float], str], size: Size,
           title: str) -> tuple[_Plane, list[Markup]]:
    """The plane holding every (x, y) and the ticks, and the chart's opening: the grid, the axes
    through 0 where in range, the tick labels."""
    x_low, x_high = min(x_ticks[0], min(xs)), max(x_ticks[-1], max(xs))
    y_low, y_high = min(y_ticks[0], min(ys)), max(y_ticks[-1], max(ys))
    x_low, x_high = (x_low - 1, x_high + 1) if x_high == x_low else (x_low, x_high)
    y_low, y_high = (y_low - 1, y_high + 1) if y_high == y_low else (y_low, y_high)
    left = max(_text_width(y_show(t), size.font) for t in y_ticks) + 14
    top, bottom, right = 10, size.font * 2 + 24, 12
    plane = _Plane(left, top, size.width - left - right, size.height - top - bottom, x_low, x_high, y_low, y_high)
    px, py = plane.px, plane.py
    out = [_svg_open(size, title)]
    for tick in y_ticks:
        out.append(Markup('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}"/>').format(
            left, py(tick), left + plane.width, py(tick), AXIS if tick == 0 else GRID))
        out.append(_text(left - 6, py(tick) + size.font * 0.35, y_show(tick), "end", extra=Markup(' class="tick"')))
    for tick in x_ticks:
        out.append(Markup('<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="{3}"/>').format(
            px(tick), top, top + plane.height, AXIS if tick == 0 else GRID))
        out.append(_text(px(tick), top + plane.height + size.font + 6, x_show(tick), "middle",
                         extra=Markup(' class="tick"')))
    return plane, out


def _density(points: Sequence[tuple[float, float]], plane: _Plane, radius: float, faint: float,
             span: float) -> list[Markup]:
    """`points` as dots, those on the same spot of the drawing drawn once, darker the more of them
    (opacity `faint` for one, up to `faint` + `span`): many thousands stay a small picture."""
    spots: dict[tuple[int, int], int] = {}
    for x, y in points:
        spot = (round(plane.px(x) / SPOT), round(plane.py(y) / SPOT))
        spots[spot] = spots.get(spot, 0) + 1
    if not spots:
        return []
    most = max(spots.values())
    out = [Markup('<g fill="{}">').format(PALETTE[0])]
    for (sx, sy), count in spots.items():
        out.append(Markup('<circle cx="{}" cy="{}" r="{}" fill-opacity="{:.1f}"/>').format(
            sx * SPOT, sy * SPOT, radius, faint + span * math.log1p(count) / math.log1p(most)))
    out.append(Markup("</g>"))
    return out


def _axis_names(plane: _Plane, size: Size, x_name: str, y_name: str) -> list[Markup]:
    return [_text(plane.left + plane.width / 2, size.height - 6, x_name, "middle", AXIS),
            _text(plane.left + 4, plane.top + size.font, y_name, "start", AXIS), Markup("</svg>")]


def scatter_chart(xs: Sequence[float], ys: Sequence[float], title: str, x_name: str, y_name: str,
                  size: Size = WIDE, value_format: Callable[[float], str] | None = None) -> Markup:
    """Points (x, y) with both axes through 0 where in range and the line y = x dashed; points
    that land on the same spot of the drawing are drawn once, darker the more of them (so many
    thousands of points stay a small picture)."""
    points = [(float(x), float(y)) for x, y in zip(xs, ys) if x is not None and y is not None
              and math.isfinite(x) and math.isfinite(y)]
    if not points:
        return empty_chart(title, size)
    show = value_format or (lambda v: f"{v:.2f}")
    px_all, py_all = [p[0] for p in points], [p[1] for p in points]
    plane, out = _plane(px_all, py_all, nice_ticks(min(px_all), max(px_all), size.x_ticks),
                        nice_ticks(min(py_all), max(py_all), size.y_ticks), show, show, size, title)
    low, high = max(plane.x_low, plane.y_low), min(plane.x_high, plane.y_high)
    if low < high:
        out.append(Markup('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" '
                          'stroke-dasharray="4 3"/>').format(plane.px(low), plane.py(low), plane.px(high),
                                                              plane.py(high), AXIS))
    out += _density(points, plane, 3, 0.3, 0.7)
    out += _axis_names(plane, size, x_name, y_name)
    return Markup("").join(out)


# -- combination search ----------------------------------------------------------------------------

TOP_COLOR, ALONE_COLOR = "#D55E00", "#1a1a1a"


def risk_return_chart(points: Sequence[tuple[float, float]], top: Sequence[tuple[float, float, str]],
                      alone: Sequence[tuple[float, float, str]], title: str, x_name: str, y_name: str,
                      size: Size = WIDE) -> Markup:
    """Every subset as a point (x volatility, y return), points on the same spot of the drawing
    drawn once, darker the more of them (thousands of subsets stay a small picture); the `top`
    subsets as numbered orange dots and the strategies `alone` as labelled black squares, each
    (x, y, label) with its label on hover."""
    def finite(x: float | None, y: float | None) -> bool:
        return x is not None and y is not None and math.isfinite(x) and math.isfinite(y)

    every = [(float(x), float(y)) for x, y in points if finite(x, y)]
    marked = [(float(x), float(y), label) for x, y, label in [*top, *alone] if finite(x, y)]
    if not every and not marked:
        return empty_chart(title, size)
    xs = [p[0] for p in every] + [p[0] for p in marked]
    ys = [p[1] for p in every] + [p[1] for p in marked]
    x_ticks = nice_ticks(min(min(xs), 0.0), max(xs), size.x_ticks)
    y_ticks = nice_ticks(min(ys), max(ys), size.y_ticks)
    plane, out = _plane(xs, ys, x_ticks, y_ticks, percent_axis(x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 0.01),
                        percent_axis(y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 0.01), size, title)
    px, py = plane.px, plane.py
    out += _density(every, plane, 2.5, 0.25, 0.6)
    placed: list[tuple[float, float, float, float]] = []  # label boxes drawn: a label never covers another
    labels: list[Markup] = []  # drawn last, over the points

    def label_at(x: float, y: float, text: str, color: str) -> None:
        box = (x, y - size.font, x + _text_width(text, size.font), y + 2)
        if box[2] > size.width or any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                                      for b in placed):
            return  # crowded: the point keeps its name on hover
        placed.append(box)
        labels.append(_text(x, y, text, fill=color, extra=Markup(' class="tick"')))

    ranked = [(rank, px(x), py(y), label) for rank, (x, y, label) in enumerate(top, start=1) if finite(x, y)]
    for _, cx, cy, _ in ranked[:1]:
        label_at(cx + 7, cy + size.font * 0.35, "#1", TOP_COLOR)
    for x, y, label in [(x, y, label) for x, y, label in alone if finite(x, y)]:
        out.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="7" height="7" fill="{}"><title>{}</title></rect>').format(
            px(x) - 3.5, py(y) - 3.5, ALONE_COLOR, label))
        label_at(px(x) + 6, py(y) - 4, shorten(label, size.label_chars // 2), ALONE_COLOR)
    for rank, cx, cy, label in reversed(ranked):
        out.append(Markup('<circle cx="{:.1f}" cy="{:.1f}" r="5" fill="{}" stroke="#ffffff"><title>#{} {}</title>'
                          '</circle>').format(cx, cy, TOP_COLOR, rank, label))
    out += labels
    out += _axis_names(plane, size, x_name, y_name)
    return Markup("").join(out)
