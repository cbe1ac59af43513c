"""Library code logs (plumbing/messages.py): it never prints and takes no `log` callable, and the programs
that run it show what it logs, one line each on stderr."""

from __future__ import annotations

import ast
import io
import logging

import pytest

from plumbing.messages import PACKAGES as LIBRARY, show_messages
from tests.conftest import REPO


def library_modules():
    for package in LIBRARY:
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name != "__main__.py":  # the command lines print their results
                yield path


@pytest.mark.parametrize("path", list(library_modules()), ids=lambda p: str(p.relative_to(REPO)))
def test_library_code_logs_instead_of_printing(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prints = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
    log_arguments = [n.lineno for n in ast.walk(tree) if isinstance(n, (ast.arg, ast.keyword)) and n.arg == "log"]
    assert not prints, f"print() on line(s) {prints}: log through logging.getLogger(__name__) instead"
    assert not log_arguments, f"a `log` argument on line(s) {log_arguments}: log through logging.getLogger(__name__)"


@pytest.fixture
def restore_loggers():
    saved = {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers)) for name in LIBRARY}
    yield
    for name, (level, handlers) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers


def test_show_messages_prints_info_and_up_once_each_as_the_bare_sentence(restore_loggers):
    stream = io.StringIO()
    show_messages(stream=stream)
    show_messages(stream=stream)  # a second setup replaces the first: no line printed twice
    logging.getLogger("qa.watch").info("Now answering from the rebuilt index b2.")
    logging.getLogger("index.build").warning("Skipped x.doc: it is an old Word file.")
    logging.getLogger("index.build").debug("not for people")
    logging.getLogger("gradio").info("another library's chatter")
    assert stream.getvalue().splitlines() == ["Now answering from the rebuilt index b2.", "Skipped x.doc: it is an old Word file."]


def test_a_server_that_cannot_load_says_why_in_its_log_and_something_kind_to_the_visitor(logged):
    from server.loader import not_ready_message

    lines = logged("server")
    reply = not_ready_message(RuntimeError("No index in var/index"))
    assert lines == ["The answering service could not load: No index in var/index"]
    assert "not ready" in reply and "var/index" not in reply
