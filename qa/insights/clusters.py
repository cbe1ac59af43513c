"""Opted-in question texts grouped by the article section nearest to each, so staff see what to write next
and where it would go.

Each question is embedded with the model the index was built with and compared (cosine: vectors are
normalised) with every passage; the section holding its nearest passage is its group. A question far from
every passage still goes to its nearest section, with the similarity shown, so staff can tell "near the
sessions section" from "about nothing the articles say". Leaves out: finding topics among the questions
themselves (a few dozen questions a month cluster poorly; the sections are the clinic's own map).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from index import Embedder, SearchIndex


@dataclass
class Group:
    source_id: str
    title: str
    section: str
    questions: list[tuple[str, int, float]] = field(default_factory=list)  # (text, times asked, cosine with the passage)

    @property
    def size(self) -> int:
        return sum(times for _text, times, _similarity in self.questions)


def by_nearest_section(questions: list[str], index: SearchIndex, embedder: Embedder) -> list[Group]:
    """`questions` grouped by their nearest section of `index`; largest group first, then by title, section;
    within a group, the most asked first, then the nearest. The same question asked again (case and spacing
    aside) is one line with a count."""
    if not questions or not index.passages:
        return []
    times, first_asked = Counter(), {}
    for text in questions:
        same = " ".join(text.split()).casefold()
        times[same] += 1
        first_asked.setdefault(same, text)
    vectors = np.asarray(embedder.embed(list(first_asked.values())), dtype=np.float32)
    similarity = vectors @ index.passage_vectors.T
    groups: dict[tuple[str, str], Group] = {}
    for (same, text), row in zip(first_asked.items(), similarity):
        best = int(np.argmax(row))
        passage = index.passages[best]
        group = groups.setdefault((passage.source_id, passage.section), Group(passage.source_id, passage.title, passage.section))
        group.questions.append((text, times[same], round(float(row[best]), 2)))
    for group in groups.values():
        group.questions.sort(key=lambda item: (-item[1], -item[2], item[0]))
    return sorted(groups.values(), key=lambda g: (-g.size, g.title, g.section))
