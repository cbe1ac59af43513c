"""Settings of the answering service: the clinic file (clinic.toml), with the paths the environment names.

Where the clinic file, the sources and the index are comes from plumbing/environment.py, the one reader of
the environment (QA_CONFIG, QA_SOURCES_DIR, QA_INDEX_DIR). The insights store (`[privacy] events_file`)
defaults to events.sqlite3 beside the index directory (var/ unless QA_INDEX_DIR says otherwise), so a server
started with its own index keeps its own events.

Values are validated here, and a bad file raises `ConfigError` naming the key and the fix.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from plumbing import environment
from plumbing.environment import DEFAULT_INDEX_DIR, DEFAULT_SOURCES, FEEDBACK_FILE, REPO_ROOT

from .errors import ConfigError

# Opted-in question text ([privacy] store_question_text) is cut here: enough to see what was asked, and a
# pasted document is not kept whole. The insights store cuts it (qa/insights/events.py); the privacy note says it.
KEPT_TEXT_LIMIT = 1000

DEFAULT_DISCLAIMER = (
    "This is educational information quoted from the listed articles, not medical advice. It does not replace "
    "a licensed clinician who knows your health history. In an emergency, call {emergency_number}."
)


@dataclass(frozen=True)
class Settings:
    clinic_name: str = "Acupuncture & Neuropathy Q&A"
    contact_url: str = ""
    contact_label: str = "Contact the clinic"
    emergency_number: str = "911"
    crisis_line: str = "988"
    crisis_line_name: str = "988 Suicide & Crisis Lifeline (call or text)"
    poison_line: str = "1-800-222-1222 (Poison Control)"
    disclaimer_template: str = DEFAULT_DISCLAIMER
    coverage: str = (
        "what peripheral neuropathy is and what causes it; how acupuncture is thought to relieve nerve pain; "
        "what the research shows; what treatment involves (needles, sessions, how long and how often); "
        "and its safety and side effects"
    )
    # The articles `coverage` was written for (qa/coverage.py names any other by its title).
    coverage_sources: tuple[str, ...] = (
        "acupuncture-mechanisms-evidence", "acupuncture-neuropathy-feet", "acupuncture-peripheral-neuropathy",
        "acupuncture-work-for-neuropathy", "how-acupuncture-helps-neuropathy",
    )
    examples: tuple[str, ...] = (
        "Will the needles hurt?",
        "Is acupuncture safe if I take blood thinners?",
        "How many sessions will I need?",
        "How does acupuncture help nerve pain?",
        "Can acupuncture help neuropathy from chemo?",
    )
    max_passages: int = 3
    max_question_chars: int = 1000
    store_question_text: bool = False
    keep_days: int = 90  # insights events older than this are deleted (on start, then daily)
    events_file: Path | None = None  # None: events.sqlite3 beside the index directory (var/events.sqlite3)
    feedback_file: Path = FEEDBACK_FILE  # the old JSONL thumbs up/down log, imported into events_file once
    allowed_origins: tuple[str, ...] = ("http://localhost:*", "http://127.0.0.1:*")
    rate_limit_per_minute: int = 30
    sources_dir: Path = DEFAULT_SOURCES
    index_dir: Path = DEFAULT_INDEX_DIR

    def __post_init__(self):
        if self.events_file is None:  # beside the index, as its ONNX cache is: a server with its own index keeps its own events
            object.__setattr__(self, "events_file", environment.events_file(self.index_dir))

    @property
    def disclaimer(self) -> str:
        return self.disclaimer_template.format(emergency_number=self.emergency_number)


_KEYS = {  # (table, key) -> (field, type)
    ("clinic", "name"): ("clinic_name", str),
    ("clinic", "contact_url"): ("contact_url", str),
    ("clinic", "contact_label"): ("contact_label", str),
    ("emergency", "emergency_number"): ("emergency_number", str),
    ("emergency", "crisis_line"): ("crisis_line", str),
    ("emergency", "crisis_line_name"): ("crisis_line_name", str),
    ("emergency", "poison_line"): ("poison_line", str),
    ("answer", "disclaimer"): ("disclaimer_template", str),
    ("answer", "coverage"): ("coverage", str),
    ("answer", "coverage_sources"): ("coverage_sources", tuple),
    ("answer", "examples"): ("examples", tuple),
    ("answer", "max_passages"): ("max_passages", int),
    ("answer", "max_question_chars"): ("max_question_chars", int),
    ("privacy", "store_question_text"): ("store_question_text", bool),
    ("privacy", "keep_days"): ("keep_days", int),
    ("privacy", "events_file"): ("events_file", Path),
    ("privacy", "feedback_file"): ("feedback_file", Path),
    ("widget", "allowed_origins"): ("allowed_origins", tuple),
    ("widget", "rate_limit_per_minute"): ("rate_limit_per_minute", int),
}


def load_settings(path: str | Path | None = None, *, environ: dict | None = None) -> Settings:
    """Settings from the clinic file and the environment (see the module docstring)."""
    named_file, named = environment.config_file(environ)
    path = Path(path) if path else named_file
    values: dict = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}). Fix the file or point QA_CONFIG at another one.") from exc
        values = _values(data, path)
    elif named and path == named_file:
        raise ConfigError(f"QA_CONFIG points at {path}, which does not exist. Fix the path or unset QA_CONFIG.")
    values["sources_dir"] = environment.sources_dir(environ)
    values["index_dir"] = environment.index_dir(environ)
    settings = Settings(**values)
    _validate(settings, path)
    return settings


def _values(data: dict, path: Path) -> dict:
    values = {}
    for table, entries in data.items():
        if not isinstance(entries, dict):
            raise ConfigError(f"{path}: '{table}' must be a [table]. Known tables: clinic, emergency, answer, privacy, widget.")
        for key, value in entries.items():
            if (table, key) not in _KEYS:
                known = ", ".join(k for t, k in _KEYS if t == table) or "none"
                raise ConfigError(f"{path}: unknown setting [{table}] {key}. Known keys in [{table}]: {known}.")
            name, kind = _KEYS[(table, key)]
            values[name] = _convert(value, kind, f"{path}: [{table}] {key}")
    return values


def _convert(value, kind, where: str):
    if kind is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, got {value!r}.")
        return tuple(value)
    if kind is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a path string, got {value!r}.")
        candidate = Path(value)
        return candidate if candidate.is_absolute() else REPO_ROOT / candidate
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where} must be a whole number, got {value!r}.")
    if not isinstance(value, kind):
        raise ConfigError(f"{where} must be a {kind.__name__}, got {value!r}.")
    return value


def _validate(settings: Settings, path: Path) -> None:
    if not 1 <= settings.max_passages <= 10:
        raise ConfigError(f"{path}: [answer] max_passages must be between 1 and 10, got {settings.max_passages}.")
    if not 50 <= settings.max_question_chars <= 20_000:
        raise ConfigError(f"{path}: [answer] max_question_chars must be between 50 and 20000, got {settings.max_question_chars}.")
    if settings.keep_days < 1:
        raise ConfigError(f"{path}: [privacy] keep_days must be a whole number of days, 1 or more, got {settings.keep_days}.")
    if settings.rate_limit_per_minute < 0:
        raise ConfigError(f"{path}: [widget] rate_limit_per_minute must be 0 (off) or more, got {settings.rate_limit_per_minute}.")
    try:
        settings.disclaimer
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"{path}: [answer] disclaimer has an unknown placeholder ({exc}); only {{emergency_number}} is filled in.") from exc
    if not settings.disclaimer.strip():
        raise ConfigError(f"{path}: [answer] disclaimer must not be empty: every answer carries it.")
