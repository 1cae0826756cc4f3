"""Building blocks of a self-contained HTML report: page, tables, figures, inline SVG.

Everything the page shows is escaped here or by the caller with `html.escape`; charts are
matplotlib figures embedded as inline SVG, so the file needs no network, script or font.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from html import escape
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

# A fixed salt makes matplotlib's SVG ids (clip paths, markers) the same on every run; its
# default is a random uuid, which would make each rendering of the same report differ.
STYLE: dict[RcKeyType, Any] = {
    "svg.hashsalt": "lifetide-report",
    "svg.fonttype": "path",
    # Labels are data (feature and data set names): a "$" in one must not start TeX math.
    "text.parse_math": False,
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
}

# Colors that stay apart for common color-vision deficiencies (Okabe & Ito).
ACTUAL = "#222222"
PREDICTED = "#0072B2"
COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: #1d1d1f; background: #fafafa; margin: 0; line-height: 1.45; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.3em; margin: 2em 0 0.6em; padding-bottom: 0.2em;
  border-bottom: 2px solid #e6e6e6; }
h3 { font-size: 1.05em; margin: 1.5em 0 0.5em; }
.meta { color: #666; margin: 0 0 1em; }
nav ol { columns: 2; padding-left: 1.2em; margin: 0.5em 0 1em; }
nav a { color: #0a58ca; text-decoration: none; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e6e6e6; text-align: left; }
th { background: #f3f3f3; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0 1.6em; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
.unavailable { color: #8a6d00; background: #fff8e1; border-left: 4px solid #f0c36d;
  padding: 6px 12px; }
.notes li { margin: 0.3em 0; }
"""


def number(value: float | int | None, digits: int = 3) -> str:
    """A number for a table: thousands separated, `digits` significant; "n/a" if unknown."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A share as a percentage; "n/a" if unknown."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.{digits}f}%"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: int = 1) -> str:
    """An HTML table of already formatted cells; columns from `numeric` on align right."""

    def cells(values: Sequence[str], tag: str) -> str:
        return "".join(
            f"<{tag}{' class=num' if i >= numeric else ''}>{escape(v)}</{tag}>"
            for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{body}</tbody></table>"


def unavailable(reason: str) -> str:
    """The placeholder of a missing section."""
    return f'<p class="unavailable">not available: {escape(reason)}</p>'


@contextmanager
def report_style() -> Iterator[None]:
    """Matplotlib settings for the report's figures, restored afterwards."""
    with matplotlib.rc_context(STYLE):
        yield


_ID = re.compile(r'(id="|href="#|url\(#)')


def svg(figure: Figure, label: str, prefix: str) -> str:
    """The figure as inline <svg> markup: ids prefixed to stay unique within the page.

    The XML prolog (its DOCTYPE names a URL) and the metadata block (creator URLs) are
    dropped; an inline SVG needs neither.
    """
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    markup = buffer.getvalue()
    markup = markup[markup.index("<svg") :]
    markup = re.sub(r"<metadata>.*?</metadata>\s*", "", markup, flags=re.DOTALL)
    markup = _ID.sub(lambda m: f"{m.group(1)}{prefix}-", markup)
    return markup.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)


def figure(figure: Figure, label: str, prefix: str, caption: str) -> str:
    """A <figure> holding the chart and a caption saying what a good result looks like."""
    return (
        f"<figure>{svg(figure, label, prefix)}<figcaption>{escape(caption)}</figcaption></figure>"
    )


def page(title: str, body: str) -> str:
    """The whole HTML document, styles inline."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
