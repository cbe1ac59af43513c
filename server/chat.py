"""The chat page at `/`: a Gradio chat whose replies are the answers' Markdown, with example questions, the
disclaimer, a privacy note, and thumbs up/down that go to the feedback log.

`respond(message, history, answerer)` is the chat's reply, pure: Gradio's message and history in, the
answer's Markdown out, in a <div> that carries the cited source ids. The page records each answer as one
insights event (qa/insights/), with the question's text only where the clinic opted in and the page's
privacy note (qa/wording.py) says so. `build_demo` builds the page, which
is cheap: the answerer loads on the first question (or before, in `python app.py`). Served mounted in
app.py's FastAPI app, or by `gradio app.py` in reload mode, with the same `PAGE_OPTIONS` both ways.
System fonts only, no share button, no flagging, no chat history kept in the browser.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Callable

import gradio as gr

from index import SearchIndexError
from qa import Answerer, QAError, Result, Settings, wording
from qa import history as conversation
from qa.insights.events import answer_event, cited_source_ids
from qa.insights.store import EventStore
from qa.safety import SAFETY_LEVELS

from . import WEB_DIR
from .feedback import FeedbackLog
from .loader import LazyAnswerer, not_ready_message

CONCURRENT_ANSWERS = 8
# System fonts only: the default theme would fetch web fonts from Google.
THEME = gr.themes.Default(primary_hue="blue", font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
# How the chat page is served, whether mounted in our FastAPI app or launched by `gradio app.py`.
PAGE_OPTIONS = dict(theme=THEME, css_paths=[WEB_DIR / "chat.css"], ssr_mode=False, footer_links=[], run_history=False)


_SOURCES_ATTR = re.compile(r'data-sources="([^"]*)"')
_CLASS_ATTR = re.compile(r'^\s*<div class="([^"]*)"')


def message_text(content: Any) -> str:
    """Plain text of a chat message, whose content Gradio sends as a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content["text"] if isinstance(content.get("text"), str) else ""
    if isinstance(content, (list, tuple)):
        return "\n".join(text for part in content if (text := message_text(part)))
    return ""


def plain_history(history: list | None) -> list[dict]:
    """Gradio's chat history as the answerer takes it: [{"role", "content": str}], other roles dropped."""
    return conversation.lenient(history, content=message_text)


def chat_message(answer: dict) -> str:
    """The answer's Markdown in a <div> whose classes let CSS style safety messages and abstentions, and tell
    a thumbs up/down on small talk (`qa-small-talk`) or a safety message from one on an answer.

    The cited source ids ride along in a data attribute, so a thumbs up/down can be recorded with them
    without the server remembering anything about the conversation.
    """
    classes = ["qa-answer"]
    safety = answer.get("safety")
    if safety:
        level = safety.get("level")
        classes += ["qa-safety"] + ([f"qa-safety-{level}"] if level in SAFETY_LEVELS else [])
    elif answer["abstained"]:
        classes.append("qa-abstained")
    elif not answer["passages"]:  # neither answered nor abstained: a greeting, thanks, goodbye or empty message
        classes.append("qa-small-talk")
    sources = html.escape(json.dumps(cited_source_ids(answer)), quote=True)
    # Blank lines around the Markdown: without them the renderer treats it as raw HTML, not Markdown.
    return f'<div class="{" ".join(classes)}" data-sources="{sources}">\n\n{answer["answer_markdown"]}\n\n</div>'


def source_ids_of(message: str, known: set[str]) -> list[str]:
    """The source ids stored by `chat_message`; ids the index does not know are dropped (the browser sent them)."""
    found = _SOURCES_ATTR.search(message)
    if not found:
        return []
    try:
        ids = json.loads(html.unescape(found.group(1)))
    except ValueError:
        return []
    if not isinstance(ids, list):
        return []
    return [i for i in dict.fromkeys(ids) if isinstance(i, str) and i in known]


def question_before(history: list | None, index: Any) -> str | None:
    """The visitor's message just before the assistant message at `index` in the chat."""
    if not isinstance(history, list) or not isinstance(index, int):
        return None
    for message in reversed(history[:index]):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content")) or None
    return None


def rated_question(message: str, history: list | None, index: Any) -> str | None:
    """The visitor's question behind the rated reply `message` (the chat message at `index`), for the rating
    event; None when the reply was a safety message or small talk (or not one of our answers): their text is
    never kept, not even rated thumbs-down by a clinic that opted in to question text."""
    found = _CLASS_ATTR.match(message)
    classes = found.group(1).split() if found else []
    if "qa-answer" not in classes or {"qa-safety", "qa-small-talk"} & set(classes):
        return None
    return question_before(history, index)


def rating_of(liked: bool | str) -> str | None:
    """'up' / 'down' from Gradio's like data; None when a thumb was un-clicked."""
    if liked is True or liked == "Like":
        return "up"
    if liked is False or liked == "Dislike":
        return "down"
    return None


def respond(message: Any, history: list | None, answerer: Answerer,
            record: Callable[[Result], None] | None = None) -> str:
    """The chat's reply to `message` after `history` (both as Gradio sends them), answered by `answerer`;
    `record` is given the `Result` behind the answer (for the insights event)."""
    question, turns = message_text(message), plain_history(history)
    if record is None:
        return chat_message(answerer.ask(question, turns))
    result = answerer.answer(question, turns)
    record(result)
    return chat_message(result.answer)


def build_demo(settings: Settings, answerers: LazyAnswerer, feedback: FeedbackLog,
               events: EventStore | None = None) -> gr.Blocks:
    """The chat page; each answer goes to `events` (when given). Cheap: nothing here loads the model or the index."""

    def record(result: Result) -> None:
        if events is not None:  # a queue put: the disk is the writer thread's business
            events.record(answer_event(result, channel="chat", keep_text=settings.store_question_text))

    def reply(message: str, history: list) -> str:
        try:
            answerer = answerers.get()
        except (SearchIndexError, QAError) as exc:
            raise gr.Error(not_ready_message(exc)) from exc
        return respond(message, history, answerer, record)

    def on_like(history: list, data: gr.LikeData) -> None:
        rating = rating_of(data.liked)
        if rating is None or not answerers.loaded:
            return
        known = set(answerers.get().index.source_ids)
        message = message_text(data.value)
        feedback.record(rating, source_ids_of(message, known), rated_question(message, history, data.index))

    with gr.Blocks(title=settings.clinic_name, analytics_enabled=False) as demo:
        gr.HTML(header_html(settings), elem_id="qa-header", js_on_load=None)
        chatbot = gr.Chatbot(
            show_label=False,
            elem_id="qa-chat",
            height=None,  # grows with the conversation, then scrolls
            min_height=380,
            max_height="72vh",
            layout="bubble",
            feedback_options=("Like", "Dislike"),
            sanitize_html=True,
            allow_tags=False,
            latex_delimiters=[],  # articles mention dollars; never typeset them as maths
            buttons=["copy"],  # no "share": it posts to an outside site
            placeholder=placeholder_html(),
        )
        textbox = gr.Textbox(
            placeholder="Type your question here",
            show_label=False,
            lines=1,
            max_lines=4,
            submit_btn="Ask",
            autofocus=True,
            elem_id="qa-input",
        )
        gr.ChatInterface(
            reply,
            chatbot=chatbot,
            textbox=textbox,
            examples=list(settings.examples[:6]),
            run_examples_on_click=True,
            cache_examples=False,  # caching would answer the examples at startup, loading the model
            save_history=False,  # no chat history kept in the browser
            flagging_mode="never",  # Gradio's flagging would store whole conversations
            analytics_enabled=False,
            autofocus=True,
            fill_height=False,
            api_name="chat",
        )
        chatbot.like(on_like, inputs=chatbot, outputs=None, api_visibility="private", show_progress="hidden")
        gr.HTML(footer_html(settings), elem_id="qa-footer", js_on_load=None)
    demo.queue(default_concurrency_limit=CONCURRENT_ANSWERS)
    return demo


def header_html(settings: Settings) -> str:
    return (
        '<header class="qa-header">'
        f"<h1>{html.escape(settings.clinic_name)}</h1>"
        "<p>Ask about acupuncture for peripheral neuropathy. Every answer quotes a small library of articles word for word "
        "and names its sources; when they don't cover a question, it says so.</p>"
        "</header>"
    )


def placeholder_html() -> str:
    return "<p class='qa-placeholder'>Pick a question below or type your own.</p>"


def footer_html(settings: Settings) -> str:
    privacy = wording.privacy_note(settings)
    return (
        '<footer class="qa-footer">'
        f'<p class="qa-disclaimer" role="note"><strong>Medical disclaimer.</strong> {html.escape(settings.disclaimer)}</p>'
        f'<p class="qa-privacy">{html.escape(privacy)}</p>'
        "</footer>"
    )
