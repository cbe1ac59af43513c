"""What patients ask that the articles don't cover, without keeping what they typed: the clinic's insights.

    events       one event per answer and per thumbs up/down, derived from what the pipeline already decided
    store        the SQLite store (var/events.sqlite3): one writer thread, retention, the old feedback.jsonl
    suggestions  the plain suggestion shown for each kind of uncovered request or topic
    clusters     opted-in question texts grouped by their nearest article section (the embedder)
    report       `python -m qa insights`: the summary, the charts and insights.md

The server (server/api.py, server/chat.py) records; `python -m qa insights` reads. Nothing here imports
server/, and nothing here needs the model except `clusters`, which only runs when there is opted-in text.
"""
