"""The web server's parts; app.py puts them together and serves them (see app.py).

    guard     which sites may frame the chat and call the API from a browser, and the per-client rate limit
    api       POST /api/ask (reading and checking the body) and GET /healthz; ApiError
    chat      the Gradio chat page at /, around a pure respond(message, history, answerer)
    widget    /widget.js for clinic pages, and the compact chat page /embed that it opens in an iframe
    loader    the one answerer, loaded on first use and following index rebuilds
    feedback  thumbs up/down on the chat page, as rating events in the insights store (qa/insights/)

Nothing here leaves the machine. Importing the package turns off Gradio's analytics and the Hugging Face
hub's network lookups, so that whichever module imports gradio (and with it huggingface_hub) first, both
libraries start with them off: each reads these variables once, at import.
"""

from __future__ import annotations

from pathlib import Path

from plumbing.environment import stay_offline

stay_offline()

# The pages, scripts and styles the server sends, kept apart from the code.
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
