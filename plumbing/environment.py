"""The one place that reads environment variables and names the paths under var/ (every package below uses it).

    QA_CONFIG            the clinic settings file (default: clinic.toml at the repository root)
    QA_SOURCES_DIR       the source articles (default: sources/)
    QA_INDEX_DIR         the built index (default: var/index/); `python app.py`, `python -m qa` and
                         `python -m index build` all honour it, so a rebuilt index is the one served
    GRADIO_SERVER_NAME   the address `python app.py` listens on (default 127.0.0.1)
    GRADIO_SERVER_PORT   its port (default 7860)
    GRADIO_WATCH_DIRS    set by `gradio app.py` (reload mode)

and the one place that sets some, before the libraries that read them are imported: `stay_offline()`
(no hub lookups, no analytics, no telemetry: clinics run this behind firewalls).

Derived data lives under var/ (never committed): the index, the ONNX export cache, BEIR indexes, the insights
events store (answers and thumbs up/down, qa/insights/) and the reports made from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = REPO_ROOT / "var"
DEFAULT_CONFIG = REPO_ROOT / "clinic.toml"
DEFAULT_SOURCES = REPO_ROOT / "sources"
DEFAULT_INDEX_DIR = VAR_DIR / "index"
ONNX_CACHE_DIR = VAR_DIR / "onnx"
BEIR_DIR = VAR_DIR / "beir"
FEEDBACK_FILE = VAR_DIR / "feedback.jsonl"  # the old thumbs up/down log, imported into EVENTS_FILE once
# The insights store; `python -m qa insights` writes its report to insights/ beside it. A server or CLI given
# another QA_INDEX_DIR keeps its events beside that index instead (qa/config.py), as it keeps its ONNX cache.
EVENTS_FILE = VAR_DIR / "events.sqlite3"

# ORT_DISABLE_TELEMETRY: ONNX Runtime's Linux wheels (1.29 on) send usage events to Microsoft's 1DS collector
# (mobile.events.data.microsoft.com) from a thread of their own unless it is set before the first session;
# tests/test_security_server.py caught the server looking the collector up.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "ORT_DISABLE_TELEMETRY": "1"}


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def config_file(environ: Mapping[str, str] | None = None) -> tuple[Path, bool]:
    """The clinic settings file, and whether QA_CONFIG named it (then it must exist)."""
    named = _env(environ).get("QA_CONFIG")
    return (Path(named), True) if named else (DEFAULT_CONFIG, False)


def sources_dir(environ: Mapping[str, str] | None = None) -> Path:
    return Path(_env(environ).get("QA_SOURCES_DIR") or DEFAULT_SOURCES)


def index_dir(environ: Mapping[str, str] | None = None) -> Path:
    return Path(_env(environ).get("QA_INDEX_DIR") or DEFAULT_INDEX_DIR)


def onnx_cache_dir(index: Path | str) -> Path:
    """Where the ONNX export of the embedding model is cached for an index: beside it (var/onnx beside
    var/index), so the server finds what `python -m index build --out DIR` exported.

    >>> onnx_cache_dir("/srv/qa/index").as_posix()
    '/srv/qa/onnx'
    """
    return Path(index).parent / ONNX_CACHE_DIR.name


def events_file(index: Path | str) -> Path:
    """The insights store of a server or CLI using an index: beside it (var/events.sqlite3 beside var/index),
    so a server started with its own QA_INDEX_DIR keeps its own events.

    >>> events_file("/srv/qa/index").as_posix()
    '/srv/qa/events.sqlite3'
    """
    return Path(index).parent / EVENTS_FILE.name


def server_address(environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """(GRADIO_SERVER_NAME, GRADIO_SERVER_PORT), None where unset."""
    env = _env(environ)
    return env.get("GRADIO_SERVER_NAME") or None, env.get("GRADIO_SERVER_PORT") or None


def gradio_reload_mode(environ: Mapping[str, str] | None = None) -> bool:
    """Started by `gradio app.py`, which sets GRADIO_WATCH_DIRS."""
    return bool(_env(environ).get("GRADIO_WATCH_DIRS"))


def stay_offline() -> None:
    """Tell the Hugging Face libraries and Gradio to make no outside request: before they are imported."""
    for name, value in OFFLINE.items():
        os.environ[name] = value
