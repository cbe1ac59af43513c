"""Build the answer object (see ../shared/spec/contract.md) and the Markdown the chat shows.

Everything shown comes from three places only: verbatim passages from the index, the
configured messages (disclaimer, safety, abstention) and fixed short phrases here. Text from
passages and from the question is escaped for both Markdown and HTML before it is shown,
so neither a source nor a visitor can inject markup or script.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .config import Settings
from .retrieve import Hit

# Characters that start Markdown markup mid-line; "#", "-", "+" and ">" only matter at a line
# start, and every shown line starts with our own "> " or "1. ".
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def escape(text: str) -> str:
    """Plain text safe inside Markdown that may be rendered as HTML.

    >>> print(escape("<script>alert(1)</script> *bold* [x](javascript:y) single-use"))
    &lt;script&gt;alert(1)&lt;/script&gt; \\*bold\\* \\[x\\](javascript:y) single-use
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=True))


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are shown; anything else (javascript:, data:) is dropped."""
    if url and re.match(r"^https?://[^\s<>\"'()]+$", url.strip()):
        return url.strip()
    return None


@dataclass
class Reply:
    """What the pipeline decided, before it is rendered."""

    question: str
    hits: list[Hit] = field(default_factory=list)
    abstained: bool = False
    safety: dict | None = None
    notes: list[str] = field(default_factory=list)       # shown first: trimmed question, language
    message: str | None = None                           # small talk, empty input, abstention text


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
        line += f". Also in: {others}"
    return line


def render_markdown(reply: Reply, settings: Settings) -> str:
    parts: list[str] = []
    if reply.safety:
        parts.append(reply.safety["message"])
    parts += [f"_{escape(note)}_" for note in reply.notes]
    if reply.message:
        parts.append(reply.message)
    if reply.hits:
        parts.append("Here is what the articles say:")
        parts += [_quote(hit, i) for i, hit in enumerate(reply.hits, 1)]
        parts.append("**Sources**\n\n" + "\n".join(_citation(hit, i) for i, hit in enumerate(reply.hits, 1)))
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
    }
