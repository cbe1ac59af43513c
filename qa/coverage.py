"""What the "not covered" reply says the articles cover, kept true when a clinic adds or removes articles.

`[answer] coverage` in clinic.toml is a sentence written by hand for the articles named in
`[answer] coverage_sources`. The reply uses it for those, and names every other article in the index by its
title, so an article added without touching clinic.toml is still mentioned; when none of the articles it
was written for is left, the sentence is dropped and the titles alone are given. At start the server says
which articles the sentence was not written for, and which it names that are gone (`coverage_warnings`).

Not here: the reply's other words (wording.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import Settings

MAX_TITLES = 8  # more and the reply lists the first ones and "N more"


@dataclass(frozen=True)
class Coverage:
    """What one index holds against what the coverage sentence was written for."""

    written_for: tuple[str, ...]  # ids in the index that [answer] coverage describes
    other_titles: tuple[str, ...]  # titles of the articles it does not, in source-id order, each once
    other_ids: tuple[str, ...]
    gone: tuple[str, ...]  # ids in [answer] coverage_sources that the index does not hold

    @classmethod
    def of(cls, titles_by_source: dict[str, str], settings: Settings) -> Coverage:
        """`titles_by_source`: each source id in the index and its title.

        >>> from qa.config import Settings
        >>> c = Coverage.of({"a": "A", "b": "B", "new": "Parking at the clinic"}, Settings(coverage_sources=("a", "b", "old")))
        >>> c.written_for, c.other_titles, c.gone
        (('a', 'b'), ('Parking at the clinic',), ('old',))
        """
        described = set(settings.coverage_sources)
        others = sorted(sid for sid in titles_by_source if sid not in described)
        return cls(
            written_for=tuple(sorted(sid for sid in titles_by_source if sid in described)),
            other_titles=tuple(dict.fromkeys(titles_by_source[sid] for sid in others)),
            other_ids=tuple(others),
            gone=tuple(sid for sid in settings.coverage_sources if sid not in titles_by_source),
        )


def quoted_titles(titles: tuple[str, ...]) -> str:
    """“A”, “B” and “C”; past `MAX_TITLES`, the first ones and how many more.

    >>> quoted_titles(("Foot care",)), quoted_titles(("A", "B", "C"))
    ('“Foot care”', '“A”, “B” and “C”')
    >>> quoted_titles(tuple("ABCDEFGHIJ"))
    '“A”, “B”, “C”, “D”, “E”, “F”, “G”, “H” and 2 more'
    """
    shown = [f"“{title}”" for title in titles[:MAX_TITLES]]
    if len(titles) > MAX_TITLES:
        shown.append(f"{len(titles) - MAX_TITLES} more")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def coverage_warnings(coverage: Coverage, *, config_file: str | Path) -> list[str]:
    """One line for articles the coverage sentence was not written for, one for those it names that are gone."""
    warnings = []
    if coverage.other_ids:
        ids = ", ".join(f'"{sid}"' for sid in coverage.other_ids)
        how = ("The \"not covered\" reply names them by title after [answer] coverage." if coverage.written_for else
               "None of the articles it was written for is in the index, so the \"not covered\" reply gives the titles alone.")
        warnings.append(
            f"Note: [answer] coverage in {config_file} was not written for {len(coverage.other_ids)} article(s) in the "
            f"index: {quoted_titles(coverage.other_titles)}. {how} To word it yourself, mention them in [answer] coverage "
            f"and add {ids} to [answer] coverage_sources, then restart.")
    if coverage.gone:
        ids = ", ".join(f'"{sid}"' for sid in coverage.gone)
        warnings.append(
            f"Note: [answer] coverage_sources in {config_file} names article(s) the index does not hold ({ids}): if "
            "[answer] coverage describes them, the \"not covered\" reply promises what the articles no longer say. "
            "Reword [answer] coverage, remove them from coverage_sources, and restart.")
    return warnings
