"""The chat page at `/`: a Gradio chat whose replies are the answers' Markdown, with example questions, the
disclaimer, a privacy note, and thumbs up/down that go to the insights store.

`respond(message, history, answerer)` is the chat's reply, pure: the message and the history in, the
answer's Markdown out, in a <div> whose classes say what the reply was (its outcome). `build_demo` builds
the page from a Chatbot and a Textbox with five events of our own (not Gradio's ChatInterface, whose retry,
undo, edit and `/chat` API functions anyone could call, with whatever conversation they sent): a typed
question, an example, a follow-up question, a thumbs up/down, the bin. The conversation stays on the server, in the page's session
(server/sessions.py), so the browser sends only the message, a question is read by /api/ask's rules
(`readable_message`) and takes a place in the same per-visitor limit, and a thumbs up/down counts only for
an answer the page was given. The page records each answer as one insights event (qa/insights/), with the
question's text only where the clinic opted in and the page's privacy note (qa/wording.py) says so.
Building the page is cheap: the answerer loads on the first question (or before, in `python app.py`).
Served mounted in app.py's FastAPI app, or by `gradio app.py` in reload mode, with `serve_options` both ways.
System fonts only, no share button, no flagging, no chat history kept in the browser.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from index import SearchIndexError
from qa import Answerer, QAError, Result, Settings, wording
from qa import history as conversation
from qa.insights.events import answer_event, cited_source_ids
from qa.insights.store import EventStore
from qa.outcome import Outcome
from qa.safety import SAFETY_LEVELS

from . import WEB_DIR
from .chat_requests import page_event
from .feedback import FeedbackLog
from .guard import RateLimiter
from .loader import LazyAnswerer, not_ready_message
from .sessions import IDLE_SECONDS, MAX_SESSIONS, Conversation, GivenReply, SessionJanitor

CONCURRENT_ANSWERS = 8
# Events waiting for a turn at once (each holds its body, at most 64 KB); past it Gradio says the queue is full.
QUEUE_SIZE = 64
# System fonts only: the default theme would fetch web fonts from Google.
THEME = gr.themes.Default(primary_hue="blue", font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def serve_options(settings: Settings) -> dict:
    """How the chat page is served, whether mounted in our FastAPI app or launched by `gradio app.py`: the
    look, and every Gradio setting that closes something the page does not use (server/routes.py refuses
    those routes too, whatever these settings do)."""
    from gradio.utils import get_upload_folder

    blocked = {WEB_DIR.parent, settings.index_dir.parent, settings.events_file.parent, Path(get_upload_folder())}
    return dict(
        theme=THEME, css_paths=[WEB_DIR / "chat.css"],
        ssr_mode=False,  # no Node.js server beside ours
        footer_links=[],  # no "Use via API", "Built with Gradio" or settings links
        run_history=False,  # no run history page, nothing recorded in the browser
        mcp_server=False,  # no MCP server at /gradio_api/mcp
        enable_monitoring=False,  # no /monitoring dashboard
        pwa=False,  # no manifest.json, no app icons
        max_file_size=1,  # uploads: none larger than 1 byte (none are needed)
        allowed_paths=[],  # file=: no directory of ours may be served ...
        blocked_paths=sorted(str(p.resolve()) for p in blocked),  # ... and these never, whatever else allows them
        show_error=False,  # an unexpected error shows a generic message, not its internals
    )


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


# The chat message's classes, for CSS (web/chat.css): what the reply was, decided by the answerer.
OUTCOME_CLASSES = {Outcome.ANSWERED: [], Outcome.ABSTAINED: ["qa-abstained"], Outcome.SAFETY: ["qa-safety"],
                   Outcome.SMALL_TALK: ["qa-small-talk"]}


def chat_message(answer: dict, outcome: Outcome) -> str:
    """The answer's Markdown in a <div> whose classes let CSS style safety messages, abstentions and small talk.

    Markup only: what the server needs later (a thumbs up/down's sources, whether the question's words may be
    kept) is kept as data in the page's `Conversation`, never read back from here.
    """
    classes = ["qa-answer", *OUTCOME_CLASSES[outcome]]
    level = (answer.get("safety") or {}).get("level")
    if outcome is Outcome.SAFETY and level in SAFETY_LEVELS:
        classes.append(f"qa-safety-{level}")
    # Blank lines around the Markdown: without them the renderer treats it as raw HTML, not Markdown.
    return f'<div class="{" ".join(classes)}">\n\n{answer["answer_markdown"]}\n\n</div>'


def given_reply(result: Result) -> GivenReply:
    """What the page's conversation keeps of a reply: its outcome and the sources it cited."""
    return GivenReply(result.outcome, tuple(cited_source_ids(result.answer)))


def rating_facts(reply: GivenReply, chat: Conversation, index: int, known: set[str]) -> tuple[list[str], str | None]:
    """The sources (those the index knows) and the question (None unless the outcome allows keeping its words:
    never a safety message's or small talk's) recorded with a thumbs up/down on the reply at `index`."""
    sources = [source for source in reply.sources if source in known]
    return sources, chat.question_before(index) if reply.outcome.may_keep_question_text else None


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
    result = answer_in_chat(message, history, answerer, record)
    return chat_message(result.answer, result.outcome)


def answer_in_chat(message: Any, history: list | None, answerer: Answerer,
                   record: Callable[[Result], None] | None = None) -> Result:
    """The `Result` for a chat message after `history`, given to `record` first."""
    result = answerer.answer(message_text(message), plain_history(history))
    if record is not None:
        record(result)
    return result


def readable_message(message: Any) -> str:
    """The visitor's message as text, by /api/ask's rules (qa/history.py); `gr.Error` when it is not text or
    not valid Unicode (a null, a lone surrogate: only a crafted request sends those), said kindly."""
    try:
        return conversation.text(message, "message")
    except conversation.HistoryError:
        raise gr.Error("Sorry, that message could not be read. Please type your question again.",
                       print_exception=False) from None


def shown_question(question: str, max_chars: int) -> str:
    """What the chat shows and keeps of a question: as much as is read (the answer's note says the rest was not).

    >>> shown_question("Will it hurt?", 1000), shown_question("abcdef", 3)
    ('Will it hurt?', 'abc…')
    """
    return question if len(question) <= max_chars else question[:max_chars] + "…"


def build_demo(settings: Settings, answerers: LazyAnswerer, feedback: FeedbackLog,
               events: EventStore | None = None, *, budget: RateLimiter | None = None,
               sessions: SessionJanitor | None = None) -> gr.Blocks:
    """The chat page; each answer goes to `events` (when given) and takes a place in `budget` (the per-visitor
    limit the API shares, when given); `sessions` drops a page's conversation when its visitor leaves.
    Cheap: nothing here loads the model or the index.

    Five events, each a function of ours (server/chat_requests.py checks what the browser sends them): a typed
    question, an example clicked, a follow-up question clicked (the answer's suggestions, shown as buttons under
    the newest reply), a thumbs up/down and the bin. The conversation is a `Conversation` in the
    page's server-side state (server/sessions.py): the browser sends only the message, and a thumbs up/down
    names the position of an answer this page was given, which it may rate once.
    """
    sessions = sessions if sessions is not None else SessionJanitor()
    examples = list(settings.examples[:6])

    def record(result: Result) -> None:
        if events is not None:  # a queue put: the disk is the writer thread's business
            events.record(answer_event(result, channel="chat", store_question_text=settings.store_question_text))

    def ready() -> Answerer:
        try:
            return answerers.get()
        except (SearchIndexError, QAError) as exc:
            raise gr.Error(not_ready_message(exc), print_exception=False) from exc

    def answer(question: str, chat: Conversation, request: gr.Request | None):
        """Shows the question at once, then the answer: the events' shared generator."""
        client = request.client.host if request is not None and request.client else "unknown"
        place = None
        if budget is not None:
            wait, place = budget.acquire(client)
            if wait:
                raise gr.Error(budget.refusal(wait), print_exception=False)
        try:
            answerer = ready()
        except gr.Error:
            if budget is not None:
                budget.release(client, place)
            raise
        shown = shown_question(question, settings.max_question_chars)
        yield chat.messages + [{"role": "user", "content": shown}], gr.update(value="", interactive=False), chat
        result = answer_in_chat(question, chat.messages, answerer, record)
        chat.add(shown, chat_message(result.answer, result.outcome), list(result.answer.get("suggestions") or []),
                 given_reply(result))
        yield list(chat.messages), gr.update(interactive=True), chat

    @page_event("ask")
    def ask(message: Any, chat: Conversation, request: gr.Request):
        yield from answer(readable_message(message), chat, request)

    @page_event("example")
    def ask_example(chat: Conversation, selected: gr.SelectData, request: gr.Request):
        index = selected.index
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(examples):
            raise gr.Error("Sorry, there is no such example. Please type your question.", print_exception=False)
        yield from answer(examples[index], chat, request)  # the example as configured, not as the browser sent it

    @page_event("suggestion")
    def ask_suggestion(chat: Conversation, selected: gr.SelectData, request: gr.Request):
        question = chat.suggestion_at(selected.index)  # one this page was offered, not what the browser sent
        if question is None:
            raise gr.Error("Sorry, that question is no longer offered. Please type your question.", print_exception=False)
        yield from answer(question, chat, request)

    @page_event("rate")
    def rate(chat: Conversation, data: gr.LikeData) -> Conversation:
        rating, reply = rating_of(data.liked), chat.answer_at(data.index)
        if rating is None or reply is None or not answerers.loaded:
            return chat
        chat.mark_rated(data.index)
        feedback.record(rating, *rating_facts(reply, chat, data.index, set(answerers.get().index.source_ids)))
        return chat

    @page_event("clear")
    def clear(chat: Conversation) -> Conversation:
        chat.forget()
        return chat

    async def left(request: gr.Request) -> None:  # on the event loop, where Gradio keeps its sessions
        sessions.forget(request.session_hash)

    # Gradio's delete_cache: the files it made (there are none: no uploads, no files shown) are deleted every
    # 10 minutes, and all of them when the server stops.
    with gr.Blocks(title=settings.clinic_name, analytics_enabled=False, delete_cache=(600, 600)) as demo:
        gr.HTML(header_html(settings), elem_id="qa-header", js_on_load=None)
        # Each page gets its own copy of the empty Conversation (a value, not a function: a function would be one
        # more event the browser calls). Gradio's time_to_live: a conversation not touched for IDLE_SECONDS is
        # deleted (SessionJanitor drops the whole session then, and at once when the visitor leaves);
        # delete_callback empties it.
        chat = gr.State(Conversation(), time_to_live=IDLE_SECONDS, delete_callback=Conversation.forget)
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
            examples=[{"text": example} for example in examples],
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
        # "private": none of the page's events is part of Gradio's API (its /info and call/ routes are closed
        # anyway, server/routes.py).
        shown = dict(api_visibility="private", show_progress="minimal")
        textbox.submit(ask, [textbox, chat], [chatbot, textbox, chat], **shown)
        chatbot.example_select(ask_example, [chat], [chatbot, textbox, chat], **shown)
        chatbot.option_select(ask_suggestion, [chat], [chatbot, textbox, chat], **shown)
        quiet = dict(api_visibility="private", show_progress="hidden")
        chatbot.like(rate, [chat], [chat], **quiet)
        chatbot.clear(clear, [chat], [chat], **quiet)
        demo.unload(left)
        gr.HTML(footer_html(settings), elem_id="qa-footer", js_on_load=None)
    # Gradio's queue: CONCURRENT_ANSWERS at once, at most QUEUE_SIZE waiting (the rest are told the queue is
    # full), and api_open=False: no queued function can be called around the queue.
    demo.queue(default_concurrency_limit=CONCURRENT_ANSWERS, max_size=QUEUE_SIZE, api_open=False)
    # launch()'s state_session_capacity, for a page mounted in app.py's app (mount_gradio_app has no parameter
    # for it): Gradio holds at most MAX_SESSIONS pages' state, dropping the oldest.
    demo.state_session_capacity = MAX_SESSIONS
    sessions.attach(demo)
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
