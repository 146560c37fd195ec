"""A fake ESC/POS network printer: a TCP server on 127.0.0.1 that keeps what it is sent.

Each connection that sends bytes is one print. It answers the real-time status
queries DLE EOT 1 (printer), DLE EOT 2 (offline cause) and DLE EOT 4 (paper) as
an Epson printer does, so the real python-escpos client can be tested against
it. Set ``paper`` ("ok", "low", "out") and ``cover_open``: as a real printer, one
out of paper or with its cover open says it is offline, and keeps what it is
sent in its buffer (``buffered``) until :meth:`set_paper` or :meth:`close_cover`
makes it print. ``stop()`` closes the
port (the printer is "unplugged"); ``start()`` opens the same port again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

ONLINE_QUERY = b"\x10\x04\x01"
CAUSE_QUERY = b"\x10\x04\x02"
PAPER_QUERY = b"\x10\x04\x04"
QUERIES = (ONLINE_QUERY, CAUSE_QUERY, PAPER_QUERY)
PAPER_ANSWERS = {"ok": 0x12, "low": 0x1E, "out": 0x72}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakePrinter:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.prints: list[bytes] = []
        self.last_byte_at: list[float] = []
        self.paper = "ok"
        self.online = True
        self.cover_open = False
        self.buffered: list[bytes] = []
        self.queries: list[bytes] = []
        self._listener: socket.socket | None = None
        self._changed = threading.Condition()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> FakePrinter:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            # One connection at a time, as a printer's port 9100 does.
            self._serve(connection)

    def _serve(self, connection: socket.socket) -> None:
        data = bytearray()
        last = time.perf_counter()
        with connection:
            connection.settimeout(30)
            while True:
                try:
                    chunk = connection.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                if _strip(chunk):
                    last = time.perf_counter()  # the last byte of the print, not of a query
                data += chunk
                stopped = not self.online or self.cover_open or self.paper == "out"
                cause = (0x04 if self.cover_open else 0) | (0x20 if self.paper == "out" else 0)
                for query, answer in (
                    (ONLINE_QUERY, 0x1A if stopped else 0x12),
                    (CAUSE_QUERY, 0x12 | cause),
                    (PAPER_QUERY, PAPER_ANSWERS[self.paper]),
                ):
                    if data.endswith(query):
                        self.queries.append(query)
                        with contextlib.suppress(OSError):
                            connection.sendall(bytes([answer]))
        payload = _strip(bytes(data))
        if payload:
            with self._changed:
                if self.paper == "out" or self.cover_open:
                    self.buffered.append(payload)  # printed when the paper is back
                else:
                    self.prints.append(payload)
                    self.last_byte_at.append(last)
                self._changed.notify_all()

    def set_paper(self, paper: str) -> None:
        """Change the roll ("ok", "low", "out"); with paper back, the buffer prints."""
        self.paper = paper
        self._release()

    def close_cover(self) -> None:
        self.cover_open = False
        self._release()

    def _release(self) -> None:
        if self.paper == "out" or self.cover_open:
            return
        with self._changed:
            while self.buffered:
                self.prints.append(self.buffered.pop(0))
                self.last_byte_at.append(time.perf_counter())
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` prints arrived; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.prints) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True


def _strip(data: bytes) -> bytes:
    for query in QUERIES:
        data = data.replace(query, b"")
    return data
