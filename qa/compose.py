"""Build the answer object (see docs/contract.md) and the Markdown the chat shows.

Everything shown comes from three places only: verbatim passages from the index, the clinic's
settings (the disclaimer) and our own phrases (qa/wording.py). Text from passages and from the
question is escaped for both Markdown and HTML before it is shown (qa/markup.py), so neither a
source nor a visitor can inject markup or script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import wording
from .config import Settings
from .markup import escape, safe_url
from .retrieve import Hit

__all__ = ["Reply", "answer_object", "escape", "passage_object", "render_markdown", "safe_url"]

@dataclass
class Reply:
    """What the pipeline decided, before it is rendered."""

    question: str
    hits: list[Hit] = field(default_factory=list)
    abstained: bool = False
    safety: dict | None = None
    notes: list[str] = field(default_factory=list)       # shown first: trimmed question, language
    message: str | None = None                           # small talk, empty input, abstention text
    suggestions: list[str] = field(default_factory=list)  # bank questions to ask next (qa/suggestions.py)


def passage_object(hit: Hit) -> dict:
    p = hit.passage
    return {
        "text": p.text,
        "source_id": p.source_id,
        "title": p.title,
        "section": p.section,
        "url": safe_url(p.url),
        "score": round(float(hit.score), 4),
        "highlight": hit.highlight,
        "also_in": [
            {"source_id": o.source_id, "title": o.title, "section": o.section, "url": safe_url(o.url)} for o in hit.also_in
        ],
    }


def _quote(hit: Hit, number: int) -> str:
    text = hit.passage.text
    if hit.highlight and hit.highlight in text:
        before, after = text.split(hit.highlight, 1)
        body = f"{escape(before)}**{escape(hit.highlight)}**{escape(after)}"
    else:
        body = escape(text)
    body = re.sub(r"\s*\n\s*", " ", body).strip()
    return f"> {body} **[{number}]**"


def _citation(hit: Hit, number: int) -> str:
    p = hit.passage
    url = safe_url(p.url)
    title = f"[{escape(p.title)}]({url})" if url else f"*{escape(p.title)}*"
    line = f"{number}. {title}, section “{escape(p.section)}”"
    if hit.also_in:
        others = "; ".join(f"*{escape(o.title)}*" for o in hit.also_in)
        line += f". {wording.ALSO_IN}: {others}"
    return line


def render_markdown(reply: Reply, settings: Settings) -> str:
    parts: list[str] = []
    if reply.safety:
        parts.append(reply.safety["message"])
    parts += [f"_{escape(note)}_" for note in reply.notes]
    if reply.message:
        parts.append(reply.message)
    if reply.hits:
        parts.append(wording.PASSAGES_INTRO)
        parts += [_quote(hit, i) for i, hit in enumerate(reply.hits, 1)]
        parts.append(f"**{wording.SOURCES_HEADING}**\n\n" + "\n".join(_citation(hit, i) for i, hit in enumerate(reply.hits, 1)))
    parts.append(f"---\n\n<small>{escape(settings.disclaimer)}</small>")
    return "\n\n".join(parts)


def answer_object(reply: Reply, settings: Settings) -> dict:
    """The contract's fields, plus what a client needs to render the answer without reading answer_markdown:
    `notes` (plain text, shown first after a safety message: a trimmed question, another language) and
    `message` (Markdown, escaped: the reply to small talk, the abstention, or what follows a safety message;
    null when the passages are the answer)."""
    return {
        "question": reply.question,
        "answer_markdown": render_markdown(reply, settings),
        "passages": [passage_object(hit) for hit in reply.hits],
        "abstained": reply.abstained,
        "safety": reply.safety,
        "disclaimer": settings.disclaimer,
        "notes": list(reply.notes),
        "message": reply.message,
        "suggestions": list(reply.suggestions),
    }
