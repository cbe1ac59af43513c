"""Text made safe to show: escaping for Markdown that may be rendered as HTML, and the links we allow.

Passages, questions and clinic settings pass through here before they are shown, so that neither a source,
a visitor nor a settings file can inject markup or script.
"""

from __future__ import annotations

import html
import re

# Characters that start Markdown markup mid-line; "#", "-", "+" and ">" only matter at a line
# start, and every shown line starts with our own "> " or "1. ".
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def escape(text: str, *, quote: bool = True) -> str:
    """Plain text safe inside Markdown that may be rendered as HTML (and inside a Markdown table: "|" too).
    `quote=False` leaves quotes as they are, for Markdown that people also read as text (the insights report).

    >>> print(escape("<script>alert(1)</script> *bold* [x](javascript:y) single-use"))
    &lt;script&gt;alert(1)&lt;/script&gt; \\*bold\\* \\[x\\](javascript:y) single-use
    >>> print(escape("I'm <b>sure</b> | *very*", quote=False))
    I'm &lt;b&gt;sure&lt;/b&gt; \\| \\*very\\*
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=quote))


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are shown; anything else (javascript:, data:) is dropped.

    >>> safe_url(" https://clinic.example/book "), safe_url("javascript:alert(1)")
    ('https://clinic.example/book', None)
    """
    if url and re.match(r"^https?://[^\s<>\"'()]+$", url.strip()):
        return url.strip()
    return None
