"""The print agent: runs on a kiosk PC, prints the tickets the server spools for it.

It claims its jobs (``POST /api/v1/print-jobs/claim``), sends each one's
ESC/POS bytes to the local printer and acknowledges (``/done`` or
``/failed``). The Socket.IO event ``print_job`` (room ``printer:<device id>``)
wakes it at once; it also polls, so a lost push or a cut WebSocket only
delays a ticket by the polling interval.

Printed once: the id of every job whose bytes reached the printer is written
(and fsync'ed) to a journal before the server is told. When the answer to
``done`` is lost (network cut, server restart), the next round repeats it, and
a job handed out again after its lease expired is acknowledged without a
second print. The only window left is a power cut between the last byte and
the journal write (a few milliseconds): then the ticket prints twice, never
zero times.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .connections import PrinterError, parse_printer_url, send, status

log = logging.getLogger("guichet_printer.agent")

JOURNAL_KEEP = 2000


class Journal:
    """Job ids printed here, and which of them the server has acknowledged."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.printed: dict[int, bool] = {}  # id -> acknowledged by the server
        self._lock = threading.Lock()
        if path is not None and path.exists():
            for line in path.read_text(encoding="ascii", errors="ignore").splitlines():
                kind, _, value = line.partition(" ")
                if value.isdigit():
                    job_id = int(value)
                    if kind == "P":
                        self.printed.setdefault(job_id, False)
                    elif kind == "A":
                        self.printed[job_id] = True
            self._compact()

    def _append(self, line: str) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="ascii") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _compact(self) -> None:
        if self.path is None or len(self.printed) <= JOURNAL_KEEP:
            return
        keep = sorted(self.printed)[-JOURNAL_KEEP:]
        self.printed = {job_id: self.printed[job_id] for job_id in keep}
        temporary = self.path.with_suffix(".tmp")
        lines = [f"P {i}" + (f"\nA {i}" if acked else "") for i, acked in self.printed.items()]
        temporary.write_text("\n".join(lines) + "\n", encoding="ascii")
        os.replace(temporary, self.path)

    def was_printed(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self.printed

    def mark_printed(self, job_id: int) -> None:
        with self._lock:
            self._append(f"P {job_id}")
            self.printed[job_id] = False

    def mark_acknowledged(self, job_id: int) -> None:
        with self._lock:
            self._append(f"A {job_id}")
            self.printed[job_id] = True
            self._compact()

    def unacknowledged(self) -> list[int]:
        with self._lock:
            return [job_id for job_id, acked in self.printed.items() if not acked]


class ServerUnavailable(Exception):
    """The server did not answer (network cut, restart): try again later."""


class PrintAgent:
    """Claims this device's print jobs from the server and prints them locally."""

    def __init__(
        self,
        server: str,
        token: str,
        printer_url: str,
        *,
        state_dir: Path | None = None,
        poll_interval: float = 10.0,
        timeout: float = 10.0,
        use_socketio: bool = True,
        sender: Callable[[str, bytes], Any] = send,
    ) -> None:
        parse_printer_url(printer_url)  # refuse a bad URL before starting
        self.server = server.rstrip("/")
        self.token = token
        self.printer_url = printer_url
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.use_socketio = use_socketio
        self.sender = sender
        self.journal = Journal(state_dir / "printed.journal" if state_dir else None)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.printed_count = 0
        self._sio: Any = None
        import requests

        self.http = requests.Session()
        self.http.headers.update(
            {"Authorization": f"Bearer {token}", "User-Agent": f"guichet-printer/{__version__}"}
        )

    # --- HTTP --------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        import requests

        try:
            response = self.http.post(
                f"{self.server}/api/v1{path}", json=body or {}, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ServerUnavailable(str(exc)) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ServerUnavailable(f"HTTP {response.status_code}")
        if response.status_code in (401, 403):
            raise PermissionError(
                f"the server refused the token (HTTP {response.status_code}): "
                "is it the token of a printer device?"
            )
        return response

    # --- one round ---------------------------------------------------------

    def run_once(self) -> int:
        """Acknowledge what is owed, then claim and print until nothing is due; returns prints."""
        printed = 0
        for job_id in self.journal.unacknowledged():
            self._acknowledge(job_id)
        while not self.stopping.is_set():
            response = self._post("/print-jobs/claim")
            if response.status_code != 200:
                log.warning("claim refused: HTTP %s %s", response.status_code, response.text[:200])
                return printed
            jobs = response.json()
            if not jobs:
                return printed
            for job in jobs:
                printed += self._print_job(job)
        return printed

    def _print_job(self, job: dict[str, Any]) -> int:
        job_id = int(job["id"])
        if self.journal.was_printed(job_id):
            # Printed before the server heard of it: say so, do not print again.
            self._acknowledge(job_id)
            return 0
        payload = base64.b64decode(job["payload_b64"])
        try:
            self.sender(self.printer_url, payload)
        except PrinterError as exc:
            log.warning("job %s: printer unreachable: %s", job_id, exc)
            report = {"error": str(exc)[:500], "printer": status(self.printer_url, timeout=1.0)}
            self._post(f"/print-jobs/{job_id}/failed", report)
            return 0
        self.journal.mark_printed(job_id)
        self.printed_count += 1
        log.info("job %s printed (%d bytes)", job_id, len(payload))
        self._acknowledge(job_id)
        return 1

    def _acknowledge(self, job_id: int) -> None:
        response = self._post(f"/print-jobs/{job_id}/done")
        if response.status_code in (200, 404):
            # 404: the job is gone (purged); nothing more to tell.
            self.journal.mark_acknowledged(job_id)
        else:
            log.warning("done for job %s refused: HTTP %s", job_id, response.status_code)

    # --- the loop ----------------------------------------------------------

    def _connect_socketio(self) -> None:
        try:
            import socketio
        except ImportError:
            log.info("python-socketio not installed: polling only")
            return
        client = socketio.Client(reconnection=True, reconnection_delay_max=10, logger=False)

        @client.on("print_job")
        def _on_job(data: Any = None) -> None:
            self.wake.set()

        @client.on("connect")
        def _on_connect() -> None:
            log.info("connected to %s (push)", self.server)
            # Jobs spooled while disconnected are claimed at once.
            self.wake.set()

        def connect() -> None:
            delay = 1.0
            while not self.stopping.is_set():
                try:
                    client.connect(
                        self.server,
                        auth={"token": self.token},
                        # In the handshake too: the server counts a paired device apart
                        # from the anonymous phones of its address (they are bounded).
                        headers={"Authorization": f"Bearer {self.token}"},
                        transports=["websocket", "polling"],
                        wait_timeout=self.timeout,
                    )
                    return
                except Exception as exc:
                    log.info("push channel unavailable (%s); polling meanwhile", exc)
                    if self.stopping.wait(delay):
                        return
                    delay = min(delay * 2, 30.0)

        self._sio = client
        threading.Thread(target=connect, name="print-agent-socketio", daemon=True).start()

    def run(self) -> None:
        """Print until stopped (SIGTERM, Ctrl+C or :meth:`stop`)."""
        log.info("print agent for %s, printer %s", self.server, self.printer_url)
        if self.use_socketio:
            self._connect_socketio()
        backoff = 1.0
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                self.run_once()
                backoff = 1.0
                wait = self.poll_interval
            except ServerUnavailable as exc:
                log.warning("server unavailable (%s); retrying in %.0f s", exc, backoff)
                wait, backoff = backoff, min(backoff * 2, self.poll_interval)
            except PermissionError as exc:
                log.error("%s", exc)
                wait = max(self.poll_interval, 30.0)
            self.wake.wait(wait)
        if self._sio is not None:
            with contextlib.suppress(Exception):
                self._sio.disconnect()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "guichet-printer"


def build_parser(prog: str = "guichet-print-agent") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Print Guichet tickets on this PC's printer: claims the jobs the server "
        "spools for this print agent device, prints them once, acknowledges them.",
    )
    parser.add_argument("--server", help="the Guichet server, e.g. https://guichet.example.sn")
    parser.add_argument("--token", help="the device token of this print agent (kind printer)")
    parser.add_argument(
        "--printer",
        required=True,
        help="printer URL: tcp://HOST:9100, usb://VENDOR:PRODUCT, serial:///dev/ttyUSB0, "
        "file:///dev/usb/lp0 or dummy:",
    )
    parser.add_argument(
        "--poll", type=float, default=10.0, help="seconds between polls (default 10)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the journal of printed jobs is kept (default ~/.local/state/guichet-printer)",
    )
    parser.add_argument("--no-push", action="store_true", help="poll only (no Socket.IO)")
    parser.add_argument("--check", action="store_true", help="print the printer's status, exit")
    parser.add_argument("--test-page", action="store_true", help="print a test page, exit")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "guichet-print-agent") -> int:
    """The ``guichet-print-agent`` command (and ``queue-app print-agent``)."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        parse_printer_url(args.printer)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    if args.check:
        state = status(args.printer)
        print(  # noqa: T201
            f"{args.printer}: {'online' if state['online'] else 'OFFLINE'}"
            + (f", paper {state['paper']}" if state["paper"] else "")
            + (f" ({state['error']})" if state["error"] else "")
        )
        return 0 if state["online"] else 1
    if args.test_page:
        from .layout import render_text_page

        send(args.printer, render_text_page(["Guichet", "Test d'impression", "é è à ç ô — ŋ"]))
        return 0
    if not args.server or not args.token:
        print("error: --server and --token are required to run the agent", file=sys.stderr)  # noqa: T201
        return 2
    agent = PrintAgent(
        args.server,
        args.token,
        args.printer,
        state_dir=args.state_dir or default_state_dir(),
        poll_interval=args.poll,
        use_socketio=not args.no_push,
    )

    def _stop(signum: int, frame: Any) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    agent.run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
