"""Jinja2 filters of the reports: numbers as a trader reads them (percent, ratios, money, never
"-0.00%"), exact values for `data-value` attributes, CSS classes and colours for signs, and
Markdown-safe table cells."""

from __future__ import annotations

import json
import math
from typing import Any

from markupsafe import Markup, escape


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: float, text: str) -> str:
    if math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    rounds_to_zero = not any(c in "123456789" for c in text)
    return text[1:] if text.startswith("-") and rounds_to_zero else text


def pct(value: Any, digits: int = 2) -> str:
    """0.1234 -> '12.34%'; missing -> '–'; never '-0.00%'."""
    if _missing(value):
        return "\u2013"
    return _number(float(value), f"{float(value) * 100:.{digits}f}%")


def num(value: Any, digits: int = 2) -> str:
    """A ratio with `digits` decimals; missing -> '–'."""
    if _missing(value):
        return "\u2013"
    return _number(float(value), f"{float(value):,.{digits}f}")


def money(value: Any) -> str:
    """An amount with thousands separators and cents."""
    return num(value, 2)


def raw(value: Any) -> str:
    """The exact value for a `data-value` attribute ('' when missing)."""
    return "" if value is None else repr(float(value)) if isinstance(value, float) else str(value)


def sign(value: Any, decimals: int = 4) -> str:
    """'neg' (a CSS class) when `value` rounded to `decimals` places is below zero (4 = what
    `pct` shows, 3 = `pct(1)`, 2 = `num`/`money`), else ''."""
    return "neg" if not _missing(value) and round(float(value), decimals) < 0 else ""


def when(value: Any) -> str:
    """A timestamp as a date, with the time if it has one."""
    if value is None:
        return "\u2013"
    if hasattr(value, "hour") and (value.hour, value.minute, value.second) != (0, 0, 0):
        return f"{value:%Y-%m-%d %H:%M}"
    return f"{value:%Y-%m-%d}"


def shade(value: Any, scale: float = 0.1) -> str:
    """A background colour for a return cell: green up, red down, stronger with size (full at `scale`)."""
    if _missing(value) or math.isinf(float(value)):
        return "transparent"
    weight = min(abs(float(value)) / scale, 1.0) * 0.45
    r, g, b = (27, 120, 55) if float(value) >= 0 else (178, 24, 43)
    return f"rgba({r},{g},{b},{weight:.2f})"


def params_text(value: str | None) -> str:
    """A strategy's parameters JSON as `a=1, b=2` ('' when none)."""
    try:
        parsed = json.loads(value or "{}")
    except ValueError:
        return value or ""
    return ", ".join(f"{k}={v}" for k, v in parsed.items()) if isinstance(parsed, dict) else str(parsed)


def md_cell(value: Any) -> str:
    """Text safe in a Markdown table cell: no raw HTML, no pipes, no line breaks."""
    text = str(value)
    for char, escaped in (("\\", "\\\\"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"),
                          ("`", "\\`"), ("*", "\\*"), ("[", "\\["), ("]", "\\]")):
        text = text.replace(char, escaped)
    return text.replace("\r", " ").replace("\n", " ")


def breakable(name: Any) -> Markup:
    """A dotted name (`package.module:Class`) escaped, with line-break opportunities after each
    dot and colon, so that it wraps there on a narrow screen (and copies unchanged)."""
    text = escape(str(name))
    return text.replace(".", Markup(".<wbr>")).replace(":", Markup(":<wbr>"))
