"""The embedded server's connections (`queue-app run` under gevent).

gevent's WSGI server writes an answer's headers and its body in two sends. On a
kept-alive connection, Nagle's algorithm then holds the body back until the
client acknowledges the headers, which a client delays by up to 40 ms: every
answer after the first on a connection took some 44 ms. Sending each segment at
once (TCP_NODELAY) gives the embedded default the latency of gunicorn's workers.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from gevent import pywsgi


class NoDelayHandler(pywsgi.WSGIHandler):
    """gevent's WSGI handler on a connection with Nagle's algorithm off."""

    def __init__(self, sock: Any, *rest: Any) -> None:
        # Not a TCP socket (a Unix socket): nothing to turn off.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, *rest)


def handler_options() -> dict[str, Any]:
    """Extra options for Flask-SocketIO's gevent server: our handler, when it takes one.

    With gevent-websocket installed, Flask-SocketIO names its own handler class;
    WebSockets then come from it and the default delay stays.
    """
    try:
        import geventwebsocket  # noqa: F401
    except ImportError:
        return {"handler_class": NoDelayHandler}
    return {}
