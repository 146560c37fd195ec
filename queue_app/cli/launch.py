"""The `queue-app` console script: the server's cooperative networking first, then the CLI.

`queue-app run` serves thousands of idle WebSockets (waiting-room screens, tracking
pages) with gevent: one greenlet per connection instead of one thread. gevent
must patch the standard library before anything else opens sockets or starts
threads (psycopg, redis-py, APScheduler), so it happens here, before the CLI
and the application are imported. ``QUEUE_APP_ASYNC_MODE=threading`` keeps
plain threads. The other commands are left unpatched.
"""

from __future__ import annotations

import os
import sys


def wants_gevent(args: list[str]) -> bool:
    """Whether this command line runs the server in gevent mode."""
    serving = bool(args) and args[0] == "run"
    return serving and os.environ.get("QUEUE_APP_ASYNC_MODE", "gevent").lower() == "gevent"


def main() -> None:
    if wants_gevent(sys.argv[1:]):
        from gevent import monkey

        monkey.patch_all()
    from .commands import main as cli_main

    cli_main()
