"""The post-mortem report's plots: matplotlib (Agg), each returned as an embedded PNG data URI.

Handles, platforms and post text in the plots come from posts anyone can write: matplotlib would
read ``$...$`` in them as mathtext (``$\\undefinedcmd$`` raised ValueError, ``${{{...$``
RecursionError) and crash the report. Every plot is drawn with math parsing off (``plain_text``),
so text is drawn as it is written.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Literal, ParamSpec, TypeVar

import matplotlib

matplotlib.use("Agg")  # no display: render to memory

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from schemas import Alert
from schemas.signals import SubjectSignals

P = ParamSpec("P")
R = TypeVar("R")


def plain_text(plot: Callable[P, R]) -> Callable[P, R]:
    """Draw (and render) ``plot`` with mathtext off: untrusted text is never parsed."""

    @wraps(plot)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return plot(*args, **kwargs)

    return drawn


STATE_COLOURS = {"opened": "#d62728", "escalated": "#9467bd", "resolved": "#2ca02c"}


def _num(times: list[datetime]) -> list[float]:
    """Event times as matplotlib date numbers (the axes are then formatted as dates)."""
    return [float(mdates.date2num(t)) for t in times]


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _mark_events(ax: plt.Axes, alerts: list[Alert]) -> None:
    for alert in alerts:
        colour = STATE_COLOURS[alert.state]
        ax.axvline(_num([alert.detected_at])[0], color=colour, linestyle="--", linewidth=1.2)
        ax.annotate(
            f"{alert.state} ({alert.severity})",
            xy=(_num([alert.detected_at])[0], 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=8,
            color=colour,
        )
    if alerts:
        ax.axvspan(
            *_num([alerts[0].started_at, alerts[-1].detected_at]),
            color="#f4cccc",
            alpha=0.3,
            label="crisis episode",
        )


def _time_axis(ax: plt.Axes) -> None:
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=None))
    ax.set_xlabel("event time (UTC)")
    ax.grid(alpha=0.3)
    ax.tick_params(axis="x", labelrotation=30)


def _against_baseline(
    ax: plt.Axes,
    times: list[float],
    current: tuple[str, list[float], str],
    baseline: tuple[str, list[float]],
    alerts: list[Alert],
    ylabel: str,
    title: str,
    legend_loc: Literal["upper left", "lower left"],
) -> None:
    """One series (label, values, colour) against its baseline (label, values), dotted grey."""
    ax.plot(times, current[1], label=current[0], color=current[2])
    ax.plot(times, baseline[1], label=baseline[0], color="#7f7f7f", linestyle=":")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _mark_events(ax, alerts)
    ax.legend(loc=legend_loc, fontsize=8)


@plain_text
def volume_and_sentiment(reports: list[SubjectSignals], alerts: list[Alert]) -> str:
    times = _num([r.as_of for r in reports])
    fig, (volume, mood) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    _against_baseline(
        volume,
        times,
        ("posts/min (last 5 min)", [r.spread.velocity for r in reports], "#1f77b4"),
        ("seasonal baseline", [r.spread.baseline_rate for r in reports]),
        alerts,
        "posts per minute",
        "Volume against the subject's baseline",
        "upper left",
    )
    volume.grid(alpha=0.3)
    _against_baseline(
        mood,
        times,
        ("current (30 min)", [r.sentiment.current for r in reports], "#d62728"),
        ("baseline (1 day)", [r.sentiment.baseline for r in reports]),
        alerts,
        "mean sentiment (-1..1)",
        "Sentiment against the subject's baseline",
        "lower left",
    )
    _time_axis(mood)
    return _png(fig)


@plain_text
def platforms_reached(platforms: list[tuple[str, datetime]]) -> str:
    fig, ax = plt.subplots(figsize=(10, 0.6 + 0.5 * max(1, len(platforms))))
    for row, (platform, first_seen) in enumerate(platforms):
        ax.plot(_num([first_seen]), [row], marker="o", markersize=9, color="#1f77b4")
        ax.annotate(
            f"{platform}  {first_seen:%H:%M:%S}",
            (_num([first_seen])[0], row),
            xytext=(8, -3),
            textcoords="offset points",
            fontsize=9,
        )
    ax.set_yticks(range(len(platforms)), [p for p, _ in platforms])
    ax.invert_yaxis()
    ax.set_title("Platforms in the order the story reached them")
    _time_axis(ax)
    return _png(fig)


@plain_text
def reach_over_time(points: list[tuple[datetime, int, float, float, float]]) -> str:
    """(time, reach so far, projected, low, high) of the crisis's story."""
    fig, ax = plt.subplots(figsize=(10, 3.8))
    times = _num([p[0] for p in points])
    ax.plot(times, [p[1] for p in points], label="reach so far", color="#1f77b4")
    ax.plot(times, [p[2] for p in points], label="projected final reach", color="#ff7f0e")
    ax.fill_between(
        times,
        [p[3] for p in points],
        [p[4] for p in points],
        color="#ff7f0e",
        alpha=0.2,
        label="projection interval",
    )
    ax.set_yscale("symlog")
    ax.set_ylabel("people (distinct followers)")
    ax.set_title("Reach of the crisis's story: so far and projected")
    ax.legend(loc="upper left", fontsize=8)
    _time_axis(ax)
    return _png(fig)


@plain_text
def leaders_bar(leaders: list[tuple[str, float, int]]) -> str:
    """(handle, influence score, followers)."""
    fig, ax = plt.subplots(figsize=(10, 0.8 + 0.45 * max(1, len(leaders))))
    names = [f"@{h} ({f:,} followers)" for h, _, f in leaders]
    ax.barh(names, [s for _, s, _ in leaders], color="#9467bd")
    ax.invert_yaxis()
    ax.set_xlabel("influence score (log reach + interactions received + strong ties)")
    ax.set_title("Opinion leaders carrying the story")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
