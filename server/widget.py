"""The widget: `GET /widget.js`, which adds a chat button to a clinic's page; `GET /widget.json`, which the
script asks before it shows the button; and `/embed`, the compact chat page of our own (no Gradio) that the
button opens in an iframe, with its script and style.

`/widget.json` answers `{"title": clinic name}` to the server's own pages and to the sites in
`[widget] allowed_origins` (readable through CORS, server/guard.py's ApiGuard), and 403 naming the setting to
anyone else, so on a site that is not allowed the button never appears (rather than failing after a click),
and the button's tooltip says what the panel's title will say.

The files are in web/ and read once, when the routes are added. The embedded page gets its own
Content-Security-Policy: it loads only its own script and style, talks only to this server, and only the
allowed sites may frame it. The clinic's settings reach it as inert JSON. No cookies.

A clinic's own `data-title` and `data-greeting` (widget.js passes them in the query string) are shown only
when the browser says it loads the page into a frame (`Sec-Fetch-Dest: iframe`, a header no page can
set): frame-ancestors then lets it show only inside the app or an allowed site. Opened directly, at the
clinic's own address, `/embed?title=...` shows the clinic's name and the usual greeting, whatever the
link says, so nobody can make the clinic's address show their words. (A browser that does not send the
header shows the defaults in the widget too.)
"""

from __future__ import annotations

import html
import json
import re
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from qa import Settings
from qa.compose import safe_url

from . import WEB_DIR
from .guard import WIDGET_CHECK_PATH, OriginAllowList, same_origin
from .responses import error_response

# The embedded page loads only its own script and style and talks only to this server.
EMBED_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
             "base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}")
WIDGET_ASSETS = {  # route -> (file in web/, content type)
    "/widget.js": ("widget.js", "application/javascript; charset=utf-8"),
    "/embed.js": ("embed.js", "application/javascript; charset=utf-8"),
    "/embed.css": ("embed.css", "text/css; charset=utf-8"),
}
_PLACEHOLDER = re.compile(r"\{\{(title|config)\}\}")
# The widget's own options, as long as widget.js lets them be; shown only in a frame (above).
FRAMED_OPTIONS = {"title": 80, "greeting": 300}
FRAME_DESTINATIONS = {"iframe", "frame"}


def framed_options(query: dict[str, str], fetch_dest: str | None) -> dict[str, str]:
    """The widget's title and greeting from the query string, when the page is loaded into a frame.

    >>> framed_options({"title": " Ask us ", "greeting": "", "other": "x"}, "iframe")
    {'title': 'Ask us'}
    >>> framed_options({"title": "Your lab results are ready"}, "document"), framed_options({"title": "x"}, None)
    ({}, {})
    """
    if (fetch_dest or "").lower() not in FRAME_DESTINATIONS:
        return {}
    options = {name: (query.get(name) or "").strip()[:limit] for name, limit in FRAMED_OPTIONS.items()}
    return {name: value for name, value in options.items() if value}


def embed_page(settings: Settings, options: dict[str, str] | None = None) -> str:
    """The compact chat page the widget opens in its iframe, with the clinic's settings (and the widget's
    `framed_options`) as inert JSON."""
    contact = safe_url(settings.contact_url)
    config = {
        "clinicName": settings.clinic_name,
        "examples": list(settings.examples[:3]),
        "disclaimer": settings.disclaimer,
        "contact": {"label": settings.contact_label, "url": contact} if contact else None,
        **(options or {}),
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


def not_allowed_message(origin: str) -> str:
    return (f"The chat may not be shown on {origin}: add \"{origin}\" to [widget] allowed_origins in the chat "
            "server's clinic.toml and restart the server.")


def add_widget_routes(app: FastAPI, settings: Settings, origins: OriginAllowList) -> None:
    """GET /widget.js for clinic pages, /widget.json that it asks first, and /embed (+ its script and style)
    that it opens in an iframe."""
    for route, (name, media_type) in WIDGET_ASSETS.items():
        app.add_api_route(route, _asset((WEB_DIR / name).read_bytes(), media_type), methods=["GET"], include_in_schema=False)
    page = embed_page(settings)
    headers = {
        "Content-Security-Policy": EMBED_CSP.format(ancestors=origins.frame_ancestors()),
        "Cache-Control": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Sec-Fetch-Dest",
    }

    @app.get(WIDGET_CHECK_PATH, include_in_schema=False)
    def widget_check(request: Request) -> Response:
        origin = request.headers.get("origin")
        own_page = origin is not None and same_origin(origin, request.headers.get("host", ""), request.url.scheme)
        if origin is not None and not origins.allows(origin) and not own_page:
            return error_response(not_allowed_message(origin), 403)
        return JSONResponse({"title": settings.clinic_name}, headers={"Cache-Control": "no-store"})

    @app.get("/embed", include_in_schema=False)
    def embed(request: Request) -> HTMLResponse:
        options = framed_options(dict(request.query_params), request.headers.get("sec-fetch-dest"))
        return HTMLResponse(embed_page(settings, options) if options else page, headers=headers)
