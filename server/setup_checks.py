"""Checks of a clinic's setup made when the server starts, so a mistake is seen in the terminal, not by the
first visitor: each problem is one warning naming the `clinic.toml` key to change. Nothing here stops the
server; `python app.py` prints them before it serves.

    >>> from qa.config import Settings
    >>> setup_warnings(Settings(), host="127.0.0.1", config_file="clinic.toml")   # local development: quiet
    []
    >>> [w.split(" in ")[0] for w in setup_warnings(Settings(), host="0.0.0.0", config_file="clinic.toml")]
    ['Warning: [widget] allowed_origins', 'Warning: [clinic] contact_url']
"""

from __future__ import annotations

from pathlib import Path

from qa.config import Settings

from .guard import OriginAllowList, origin_host

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def serves_other_machines(host: str) -> bool:
    """Whether a server listening on `host` can be reached from other machines."""
    return host not in LOCAL_HOSTS and not host.startswith("127.")


def setup_warnings(settings: Settings, *, host: str, config_file: str | Path) -> list[str]:
    """One line per setting that will fail visitors of a server on `host` (none when it serves this machine only)."""
    if not serves_other_machines(host):
        return []
    warnings = []
    if all(origin_host(origin) in LOCAL_HOSTS for origin in OriginAllowList(settings.allowed_origins).patterns):
        warnings.append(
            f"Warning: [widget] allowed_origins in {config_file} allows only pages on this machine "
            f"({', '.join(settings.allowed_origins) or 'none'}), but the chat is served to other machines on {host}: "
            "no clinic site can show the widget or call /api/ask from a browser. Add your site's origin, "
            'e.g. allowed_origins = ["https://www.example-clinic.org"], and restart.')
    if not settings.contact_url.strip():
        warnings.append(
            f"Warning: [clinic] contact_url in {config_file} is empty: the chat cannot offer visitors a link to reach "
            "the clinic (the widget shows none, and answers that are not covered point nowhere). "
            'Set it, e.g. contact_url = "https://www.example-clinic.org/contact", and restart.')
    return warnings
