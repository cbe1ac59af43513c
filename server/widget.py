"""The widget: `GET /widget.js`, which adds a chat button to a clinic's page, and `/embed`, the compact chat
page of our own (no Gradio) that the button opens in an iframe, with its script and style.

The files are in web/ and read once, when the routes are added. The embedded page gets its own
Content-Security-Policy: it loads only its own script and style, talks only to this server, and only the
allowed sites may frame it. The clinic's settings reach it as inert JSON. No cookies.
"""

from __future__ import annotations

import html
import json
import re
from typing import Callable

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

from qa import Settings
from qa.compose import safe_url

from . import WEB_DIR
from .guard import OriginAllowList

# The embedded page loads only its own script and style and talks only to this server.
EMBED_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
             "base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}")
WIDGET_ASSETS = {  # route -> (file in web/, content type)
    "/widget.js": ("widget.js", "application/javascript; charset=utf-8"),
    "/embed.js": ("embed.js", "application/javascript; charset=utf-8"),
    "/embed.css": ("embed.css", "text/css; charset=utf-8"),
}
_PLACEHOLDER = re.compile(r"\{\{(title|config)\}\}")


def embed_page(settings: Settings) -> str:
    """The compact chat page the widget opens in its iframe, with the clinic's settings as inert JSON."""
    contact = safe_url(settings.contact_url)
    config = {
        "clinicName": settings.clinic_name,
        "examples": list(settings.examples[:3]),
        "disclaimer": settings.disclaimer,
        "contact": {"label": settings.contact_label, "url": contact} if contact else None,
    }
    # Escaped so that no setting can close the <script> element the JSON sits in.
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    values = {"title": html.escape(settings.clinic_name), "config": data}
    template = (WEB_DIR / "embed.html").read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda found: values[found.group(1)], template)


def _asset(body: bytes, media_type: str) -> Callable[[], Response]:
    def serve() -> Response:
        return Response(body, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=600", "X-Content-Type-Options": "nosniff"})
    return serve


def add_widget_routes(app: FastAPI, settings: Settings, origins: OriginAllowList) -> None:
    """GET /widget.js for clinic pages, and /embed (+ its script and style) that it opens in an iframe."""
    for route, (name, media_type) in WIDGET_ASSETS.items():
        app.add_api_route(route, _asset((WEB_DIR / name).read_bytes(), media_type), methods=["GET"], include_in_schema=False)
    page = embed_page(settings)
    headers = {
        "Content-Security-Policy": EMBED_CSP.format(ancestors=origins.frame_ancestors()),
        "Cache-Control": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }

    @app.get("/embed", include_in_schema=False)
    def embed() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)
