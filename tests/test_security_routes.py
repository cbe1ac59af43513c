"""Every route the app has, decided (issue 19): the app `python app.py` serves is built here in-process
(app.create_app, the real clinic.toml, no model loaded) and all its routes are walked, Gradio's mounted and
included ones too. Each is either opened by server/routes.py's allow-list, and listed in OPEN here, or
refused, and listed in CLOSED with why the product does without it. A route that is in neither, as a Gradio
upgrade may add, fails the test until someone decides. (The allow-list refuses it meanwhile: nothing opens
by itself.) tests/test_security_server.py asks the running server for every one of them."""

from __future__ import annotations

import pytest

from server.routes import ALLOWED, AppRoute, app_routes, is_allowed
from tests.conftest import REPO

OPEN = {
    ("GET", "/"), ("HEAD", "/"),
    ("GET", "/assets/{path:path}"), ("GET", "/static/{path:path}"), ("GET", "/theme.css"), ("GET", "/favicon.ico"),
    ("GET", "/gradio_api/heartbeat/{session_hash}"), ("POST", "/gradio_api/queue/join"), ("GET", "/gradio_api/queue/data"),
    ("POST", "/api/ask"), ("GET", "/api/ask"), ("PUT", "/api/ask"), ("PATCH", "/api/ask"), ("DELETE", "/api/ask"),
    ("GET", "/healthz"), ("GET", "/widget.js"), ("GET", "/widget.json"), ("GET", "/embed"), ("GET", "/embed.js"), ("GET", "/embed.css"),
}
# Answered by middleware, not by a route: /api/ask's CORS preflight (server/guard.py's ApiGuard).
MIDDLEWARE_ONLY = {("OPTIONS", "/api/ask")}

UPLOADS = "uploads: the chat takes no files, and an upload was kept forever (row 1)"
FILES = "files and outside URLs served or fetched on request (rows 1, 5, 6)"
DEEP_LINK = "writes a session's conversation to disk, for anyone with its id (row 5)"
API = "Gradio's own API beside the chat page's events: no limits, no checks (rows 3, 9)"
DOCS = "API docs, page config and app ids, for anyone (row 9)"
AUTH = "logins: the chat has none"
MONITORING = "monitoring: request counts and latencies, for anyone (row 9)"
MEDIA = "streamed audio and video: the chat has none"
EDITOR = "Gradio's in-browser code editor (it calls an outside model)"
DEV = "development only: reload mode, custom components, the Node.js renderer"
PWA = "installing the page as an app"
RUNS = "run history: nothing is recorded"
QUEUE = "queue controls the page does not use (it never cancels or resets)"

CLOSED = {
    ("GET", "/config"): DOCS, ("GET", "/config/"): DOCS,
    ("POST", "/gradio_api/api/{api_name}"): API, ("POST", "/gradio_api/api/{api_name}/"): API,
    ("GET", "/gradio_api/app_id"): DOCS, ("GET", "/gradio_api/app_id/"): DOCS,
    ("POST", "/gradio_api/call/v2/{api_name}"): API, ("POST", "/gradio_api/call/v2/{api_name}/"): API,
    ("GET", "/gradio_api/call/v2/{api_name}/{event_id}"): API,
    ("POST", "/gradio_api/call/{api_name}"): API, ("POST", "/gradio_api/call/{api_name}/"): API,
    ("GET", "/gradio_api/call/{api_name}/{event_id}"): API,
    ("POST", "/gradio_api/cancel"): QUEUE,
    ("POST", "/gradio_api/component_server"): API, ("POST", "/gradio_api/component_server/"): API,
    ("GET", "/gradio_api/custom_component/{id}/{environment}/{type}/{file_name}"): DEV,
    ("GET", "/gradio_api/deep_link"): DEEP_LINK,
    ("GET", "/gradio_api/dev/reload"): DEV,
    ("GET", "/gradio_api/file/{path:path}"): FILES,
    ("GET", "/gradio_api/file={path_or_url:path}"): FILES, ("HEAD", "/gradio_api/file={path_or_url:path}"): FILES,
    ("GET", "/gradio_api/info"): DOCS, ("GET", "/gradio_api/info/"): DOCS,
    ("GET", "/gradio_api/login_check"): AUTH, ("GET", "/gradio_api/login_check/"): AUTH,
    ("GET", "/gradio_api/openapi.json"): DOCS,
    ("POST", "/gradio_api/process_recording"): UPLOADS,
    ("GET", "/gradio_api/proxy={url_path:path}"): FILES, ("HEAD", "/gradio_api/proxy={url_path:path}"): FILES,
    ("GET", "/gradio_api/queue/status"): QUEUE,
    ("POST", "/gradio_api/reset"): QUEUE, ("POST", "/gradio_api/reset/"): QUEUE,
    ("POST", "/gradio_api/run/{api_name}"): API, ("POST", "/gradio_api/run/{api_name}/"): API,
    ("GET", "/gradio_api/runs"): RUNS, ("GET", "/gradio_api/runs/"): RUNS,
    ("GET", "/gradio_api/startup-events"): QUEUE,
    ("POST", "/gradio_api/stream/{event_id}"): MEDIA, ("POST", "/gradio_api/stream/{event_id}/close"): MEDIA,
    ("GET", "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist-file"): MEDIA,
    ("GET", "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist.m3u8"): MEDIA,
    ("GET", "/gradio_api/stream/{session_hash}/{run}/{component_id}/{segment_id}.{ext}"): MEDIA,
    ("GET", "/gradio_api/theme.css"): DEV,
    ("GET", "/gradio_api/token"): AUTH, ("GET", "/gradio_api/token/"): AUTH,
    ("POST", "/gradio_api/undo-vibe-edit"): EDITOR, ("POST", "/gradio_api/undo-vibe-edit/"): EDITOR,
    ("POST", "/gradio_api/upload"): UPLOADS, ("GET", "/gradio_api/upload_progress"): UPLOADS,
    ("GET", "/gradio_api/user"): AUTH, ("GET", "/gradio_api/user/"): AUTH,
    ("GET", "/gradio_api/vibe-code"): EDITOR, ("POST", "/gradio_api/vibe-code"): EDITOR,
    ("GET", "/gradio_api/vibe-code/"): EDITOR, ("POST", "/gradio_api/vibe-code/"): EDITOR,
    ("POST", "/gradio_api/vibe-edit"): EDITOR, ("POST", "/gradio_api/vibe-edit/"): EDITOR,
    ("POST", "/gradio_api/vibe-starter-queries"): EDITOR, ("POST", "/gradio_api/vibe-starter-queries/"): EDITOR,
    ("POST", "/login"): AUTH, ("POST", "/login/"): AUTH, ("GET", "/logout"): AUTH,
    ("GET", "/manifest.json"): PWA, ("GET", "/pwa_icon"): PWA, ("GET", "/pwa_icon/{size}"): PWA,
    ("GET", "/monitoring"): MONITORING, ("GET", "/monitoring/summary"): MONITORING, ("GET", "/monitoring/{key}"): MONITORING,
    ("GET", "/openapi.json"): DOCS, ("HEAD", "/openapi.json"): DOCS,
    ("GET", "/robots.txt"): "not needed: nothing here is for search engines",
    ("GET", "/svelte/{path:path}"): DEV,
}


@pytest.fixture(scope="module")
def served_routes(tmp_path_factory):
    """(method, path template) of every route of the app `python app.py` serves."""
    import app as app_module
    from qa import load_settings
    from qa.insights.store import EventStore
    from server.loader import LazyAnswerer

    directory = tmp_path_factory.mktemp("routes")
    settings = load_settings(REPO / "clinic.toml", environ={"QA_INDEX_DIR": str(directory / "index")})
    events = EventStore(directory / "events.sqlite3")
    try:
        application = app_module.create_app(settings, LazyAnswerer(settings), events=events)
        return {(method, route.path): route for route in app_routes(application) for method in route.methods}
    finally:
        events.close()


def test_the_walk_sees_gradios_mounted_and_included_routes(served_routes):
    assert ("POST", "/gradio_api/upload") in served_routes  # included router, inside the mount at /
    assert ("GET", "/config") in served_routes and ("POST", "/api/ask") in served_routes
    assert not [key for key in served_routes if key[0] in ("?", "WEBSOCKET")], "a kind of route the walk does not know"


def test_every_route_the_app_exposes_is_decided(served_routes):
    undecided = sorted(key for key in served_routes if key not in OPEN and key not in CLOSED)
    assert not undecided, (f"Routes nobody has decided about (a Gradio upgrade?): {undecided}. The allow-list refuses "
                           "them; add each to server/routes.py's ALLOWED if the product needs it (and to OPEN here), "
                           "else to CLOSED here with why not.")
    gone = sorted(key for key in OPEN | set(CLOSED) if key not in served_routes)
    assert not gone, f"Listed here but no longer served (Gradio changed?): {gone}"


def test_the_allow_list_opens_exactly_the_open_routes(served_routes):
    opened = {key for key, route in served_routes.items() if is_allowed(key[0], route.sample_path())}
    assert opened == OPEN, {"opened but not listed": opened - OPEN, "listed but refused": OPEN - opened}
    assert all(is_allowed(method, path) for method, path in MIDDLEWARE_ONLY)


def test_every_door_leads_somewhere(served_routes):
    """No stale entry in the allow-list: each opens a route (or the API's preflight)."""
    for door in ALLOWED:
        reached = [key for key, route in served_routes.items() if door.opens(key[0], route.sample_path())]
        reached += [key for key in MIDDLEWARE_ONLY if door.opens(*key)]
        assert reached, f"{door} opens no route"


def test_sample_paths_match_their_templates():
    assert AppRoute(frozenset({"GET"}), "/assets/{path:path}").sample_path() == "/assets/x/y.txt"
    assert AppRoute(frozenset({"GET"}), "/gradio_api/file={path_or_url:path}").sample_path() == "/gradio_api/file=x/y.txt"
    assert AppRoute(frozenset({"GET"}), "/gradio_api/heartbeat/{session_hash}").sample_path() == "/gradio_api/heartbeat/abc123"
