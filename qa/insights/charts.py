"""The insights report's PNG charts (matplotlib, files only): questions per day by outcome, what the articles
don't cover, and the articles cited with their thumbs-down share. Each file is written atomically.

Not here: the figures (summary.py), the report they sit in (report.py).
"""

from __future__ import annotations

from pathlib import Path

from plumbing import files

from . import suggestions
from .summary import Summary, title_of, down_share

CHARTS = {"per_day": "questions_per_day.png", "not_covered": "not_covered.png", "articles": "articles.png"}
OUTCOME_SHORT = {"answered": "answered", "abstained": "not covered", "safety": "safety", "small_talk": "small talk"}
OUTCOME_COLOURS = {"answered": "#2563eb", "abstained": "#f59e0b", "safety": "#dc2626", "small_talk": "#9ca3af"}


def draw_charts(summary: Summary, out: Path, *, titles: dict[str, str]) -> dict[str, str]:
    """The PNG charts that have something to show, written into `out`; name -> file name."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    drawn = {}
    if summary.total:
        fig, ax = plt.subplots(figsize=(9, 3.6))
        days = list(summary.per_day)
        bottom = [0] * len(days)
        for outcome, label in OUTCOME_SHORT.items():
            heights = [summary.per_day[d][outcome] for d in days]
            ax.bar(range(len(days)), heights, bottom=bottom, color=OUTCOME_COLOURS[outcome], label=label, width=0.8)
            bottom = [b + h for b, h in zip(bottom, heights)]
        step = max(1, len(days) // 10)
        ax.set_xticks(range(0, len(days), step), [d[5:] for d in days[::step]])
        ax.set_ylim(0, max(bottom) * 1.25 + 1)  # room for the legend above the bars
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 2.5 on the axis
        ax.set_ylabel("questions")
        ax.set_title("Questions per day (UTC)")
        ax.legend(loc="upper left", ncol=4, fontsize=8, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        _save(fig, out / CHARTS["per_day"], plt)
        drawn["per_day"] = CHARTS["per_day"]
    if summary.uncovered:
        kinds = summary.uncovered[:10][::-1]
        fig, _ax = _bars(plt, [suggestions.subject(k.name) for k in kinds], [k.count for k in kinds],
                         colour=OUTCOME_COLOURS["abstained"], xlabel="questions not covered",
                         title="What the articles don't cover")
        _save(fig, out / CHARTS["not_covered"], plt)
        drawn["not_covered"] = CHARTS["not_covered"]
    if summary.source_ids and sum(summary.citations.values()):
        sources = summary.by_citations()[::-1]
        fig, ax = _bars(plt, [_short(title_of(titles, s)) for s in sources], [summary.citations[s] for s in sources],
                        colour=OUTCOME_COLOURS["answered"], xlabel="answers citing the article", title="Articles cited")
        for row, source in enumerate(sources):
            share = down_share(summary, source)
            if share != "–":
                ax.annotate(f" {share} thumbs-down", (summary.citations[source], row), va="center", fontsize=8)
        ax.set_xlim(0, max(summary.citations[s] for s in sources) * 1.3)  # room for the thumbs-down share
        _save(fig, out / CHARTS["articles"], plt)
        drawn["articles"] = CHARTS["articles"]
    return drawn


def _bars(plt, labels: list[str], values: list[int], *, colour: str, xlabel: str, title: str):
    """A horizontal bar chart of whole numbers, first label at the bottom; (figure, axes)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.2))
    # By position, not by label: matplotlib draws bars of equal labels as one (two articles of one title).
    rows = list(range(len(labels)))
    ax.barh(rows, values, color=colour)
    ax.set_yticks(rows, labels)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _save(fig, path: Path, plt) -> None:
    fig.tight_layout()
    tmp = files.temporary_beside(path)
    try:
        fig.savefig(tmp, dpi=100, format="png")
        files.publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        plt.close(fig)
