"""Fuzz the live API with schemathesis: 0 server errors, 0 answers that break the document.

Used by tests/test_fuzz.py (a short run in the suite) and by ``make fuzz``
(``python -m tests.fuzzing --max-examples 100``, a longer one). The server is
the app on a fresh SQLite file, served over HTTP on 127.0.0.1, with the demo
office loaded (services, counters, kiosk and display devices, staff) and an
admin whose token every request carries, so that the secured operations are
exercised too (schemathesis also sends requests without it). The operations
only a device may use get that device's token instead (tests/schemathesis.toml
names them): the print agent's jobs, the counter tablet's ratings. Audio
uploads are serialized by tests/fuzz_hooks.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from queue_app import create_app
from queue_app.cli.commands import upgrade_database
from queue_app.demo import load_office, read_spec
from queue_app.extensions import db
from queue_app.models import DeviceKind, Role, TicketSource, User
from queue_app.queue import SYSTEM, Actor, call_next, issue_ticket, open_counter
from queue_app.queue.accounts import create_device, issue_api_token, set_password

# The fuzzer may deactivate or demote any user it finds (PATCH /users/{id}); the
# admin it works as has an id it will not try (ids start at 1; it tries the
# bounds 0 and 2**31-1, and small numbers).
FUZZ_ADMIN_ID = 2_000_000_000
# The devices whose tokens it sends, out of its reach the same way (it may revoke
# or rotate the token of any device it finds).
FUZZ_PRINT_AGENT_ID = 2_000_000_001
FUZZ_TABLET_ID = 2_000_000_002
# Environment variables naming those tokens in tests/schemathesis.toml.
TOKEN_VARIABLES = {
    "admin": "GUICHET_FUZZ_ADMIN_TOKEN",
    "print_agent": "GUICHET_FUZZ_PRINT_AGENT_TOKEN",
    "tablet": "GUICHET_FUZZ_TABLET_TOKEN",
}
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
TICKETS = 40
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = "all"
# use_after_free and ensure_resource_availability follow links between
# operations (stateful phase, not run); object_level_authorization needs two
# users' tokens: the role tests (tests/test_roles.py) cover who may see what.
EXCLUDED_CHECKS = "use_after_free,ensure_resource_availability,object_level_authorization"


def fuzz_app(folder: Path) -> Flask:
    """The app on a fresh SQLite file in ``folder``, rate limits on (429 is in the contract)."""
    app = create_app(
        {
            "TESTING": False,
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'fuzz.db'}",
            "SECRET_KEY": "fuzz-secret",
            "PUBLIC_URL": "http://127.0.0.1",
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            # Limits an office would not reach, so that the logic behind them is fuzzed too.
            "RATELIMIT_BOOKING": "600 per minute",
            "RATELIMIT_COMPLAINTS": "600 per minute",
            "RATELIMIT_FEEDBACK": "600 per minute",
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        upgrade_database()
    # One line per request on stdout would bury schemathesis's report.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return app


def load_fuzz_office(app: Flask) -> dict[str, str]:
    """The demo office, a morning's tickets, the fuzzing admin and devices; returns their tokens.

    Ids start at 1, so the small ids the fuzzer tries are real tickets in every
    state and real counters, open and closed: the operations get past their 404.
    The tokens are keyed as ``TOKEN_VARIABLES``.
    """
    with app.app_context():
        loaded = load_office(
            db.session,
            read_spec(),
            str(app.config["SECRET_KEY"]),
            instance_path=str(app.instance_path),
        )
        site = loaded.site
        agent_device, agent_token = create_device(
            db.session, site, DeviceKind.PRINTER, "Fuzz print agent"
        )
        tablet, tablet_token = create_device(db.session, site, DeviceKind.TABLET, "Fuzz tablet")
        agent_device.id = FUZZ_PRINT_AGENT_ID
        tablet.id = FUZZ_TABLET_ID
        db.session.flush()
        # The kiosk prints through the agent: its tickets are jobs the agent claims.
        kiosk = next(d for d, _ in loaded.tokens.values() if d.kind == DeviceKind.KIOSK)
        kiosk.print_agent_id = FUZZ_PRINT_AGENT_ID
        agents = [user for user, _ in loaded.users if user.role == Role.AGENT]
        for number in range(TICKETS):
            service = site.services[number % len(site.services)]
            issue_ticket(
                db.session,
                site,
                service,
                # Some from the kiosk: print jobs for the agent to claim.
                actor=Actor(device=kiosk) if number % 4 == 0 else SYSTEM,
                source=TicketSource.KIOSK,
                priority=number % 7 == 0,
                enforce_hours=False,
            )
        for agent, counter in zip(agents, site.counters, strict=False):
            open_counter(db.session, counter, agent)
            for _ in range(3):
                call_next(db.session, counter, actor=Actor(user=agent))
        admin = User(
            id=FUZZ_ADMIN_ID,
            email="fuzz-admin@guichet.test",
            full_name="Fuzz Admin",
            role=Role.ADMIN,
            password_hash="",
        )
        set_password(admin, "fuzz-admin-password")
        db.session.add(admin)
        db.session.flush()
        token, _ = issue_api_token(db.session, admin, timedelta(hours=2))
        db.session.commit()
    return {"admin": token, "print_agent": agent_token, "tablet": tablet_token}


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app over HTTP on a free port of 127.0.0.1, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="fuzz-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def run_schemathesis(
    base_url: str,
    tokens: dict[str, str],
    *,
    max_examples: int,
    seed: int | None,
    report_dir: Path,
    phases: str = "examples,coverage,fuzzing",
    timeout: float,
    extra: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the schemathesis CLI against the served app; its output is in the result."""
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/api/v1/openapi.json",
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {tokens['admin']}",
        "--checks",
        CHECKS,
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--phases",
        phases,
        "--max-examples",
        str(max_examples),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--continue-on-failure",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        *(["--seed", str(seed)] if seed is not None else []),
        *(extra or []),
    ]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "NO_COLOR": "1",
        **{TOKEN_VARIABLES[who]: token for who, token in tokens.items()},
    }
    return subprocess.run(  # noqa: S603 - our own executable, fixed arguments
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        # Its cache (.schemathesis/) goes with the run, not into the work tree.
        cwd=report_dir.parent,
        check=False,
    )


def fuzz(
    folder: Path, *, max_examples: int, seed: int | None, timeout: float, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """A fresh app and office, served, fuzzed; the server is stopped afterwards."""
    app = fuzz_app(folder)
    try:
        tokens = load_fuzz_office(app)
        with serve(app) as base_url:
            return run_schemathesis(
                base_url,
                tokens,
                max_examples=max_examples,
                seed=seed,
                report_dir=folder / "report",
                timeout=timeout,
                **kwargs,
            )
    finally:
        from queue_app.realtime import events

        app.extensions[events.PUBLISHER_KEY].stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100, help="per operation")
    parser.add_argument("--seed", type=int, default=None, help="random when omitted")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the whole run")
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("extra", nargs="*", help="more schemathesis options (after --)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="guichet-fuzz-") as folder:
        result = fuzz(
            Path(folder),
            max_examples=options.max_examples,
            seed=options.seed,
            timeout=options.timeout,
            phases=options.phases,
            extra=options.extra,
        )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    raise SystemExit(result.returncode)


if __name__ == "__main__":
    main()
