"""Wait until the replica on a port answers `GET /healthz` with 200 (its models and index loaded).

The systemd unit runs it as ExecStartPost, so `systemctl start acupuncture-qa@7861` (and `restart`) returns only
once that replica can answer: restarting the replicas one after another then never leaves nginx with none.

    python deploy/wait_ready.py 7861                 # until it answers (systemd's TimeoutStartSec bounds it)
    python deploy/wait_ready.py 7861 --timeout 60    # exit 1 if it has not answered in 60 s

Standard library only: it runs before anything else of the app is imported.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:  # refused (not listening yet), 503 (still loading), a timeout
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python deploy/wait_ready.py", description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--timeout", type=float, default=None, help="give up after this many seconds (default: never)")
    args = parser.parse_args(argv)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    while not ready(args.port):
        if deadline is not None and time.monotonic() > deadline:
            print(f"The replica on port {args.port} did not answer /healthz in {args.timeout:g} s.", file=sys.stderr)
            return 1
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
