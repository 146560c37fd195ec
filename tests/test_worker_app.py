"""`queue-app worker` builds a small app: every job still runs, texts and realtime events go out.

The worker's day runs in a process of its own (tests/worker_scenario.py): this
test process has imported the whole web side, which the worker must not need.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

from queue_app.realtime import events
from queue_app.realtime.redis_publish import RedisEmitter
from queue_app.realtime.redis_queue import GuichetRedisManager

ROOT = Path(__file__).resolve().parent.parent
NOWHERE = "redis://127.0.0.1:1/0"  # never connected to: publications are captured


def run_scenario(tmp_path: Path, sqlite_template: Path, *redis: str) -> dict[str, Any]:
    database = tmp_path / "worker.db"
    shutil.copy(sqlite_template, database)
    done = subprocess.run(
        [sys.executable, "-m", "tests.worker_scenario", f"sqlite:///{database}", str(tmp_path)]
        + list(redis),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_the_worker_runs_every_job_texts_and_prints_without_the_web_side(tmp_path, sqlite_template):
    report = run_scenario(tmp_path, sqlite_template)

    assert report["failures"] == []
    first, second = report["results"]
    # The ticket left over from two days ago is closed by the day close.
    assert first["day_close"] == 1
    assert report["stale_status"] == "cancelled"
    # The citizen with a phone is next: told so by SMS (queued, then sent by the outbox).
    assert first["turn_near_notices"] == 1
    assert second["sms_outbox"] == 1
    (text,) = report["sms"]
    assert text.startswith(f"{report['labels']['texted']} : votre tour approche")
    # The kiosk's printer received the printed ticket.
    assert report["printed_bytes"] > 0
    # None of the pages, API, Socket.IO server, forms or rate limits was imported.
    assert report["web_modules"] == []


def test_the_worker_s_realtime_events_reach_the_servers_through_redis(
    tmp_path, sqlite_template, redis_channel
):
    url, channel = redis_channel
    listener = redis.Redis.from_url(url).pubsub()
    listener.subscribe(channel)
    try:
        confirmed = listener.get_message(timeout=5)
        assert confirmed is not None
        assert confirmed["type"] == "subscribe"

        report = run_scenario(tmp_path, sqlite_template, url, channel)

        messages = []
        while (message := listener.get_message(timeout=1)) is not None:
            messages.append(json.loads(message["data"]))
    finally:
        listener.close()
    assert report["failures"] == []
    assert report["web_modules"] == []
    # As python-socketio's servers read them: each server relays them to its screens.
    assert {m["method"] for m in messages} == {"emit"}
    stale = report["labels"]["stale"]
    updates = [m["data"][0] for m in messages if m["event"] == events.TICKET_UPDATED]
    assert any(u["label"] == stale and u["status"] == "cancelled" for u in updates), updates
    assert any(m["event"] == events.QUEUE_CHANGED and m["room"] for m in messages)


def test_the_worker_publishes_what_python_socketio_s_write_only_manager_publishes():
    """The worker's emitter does without python-socketio; the servers must read it alike."""
    from flask_socketio import SocketIO

    manager = GuichetRedisManager(NOWHERE, channel="guichet", write_only=True)
    reference = SocketIO(message_queue=NOWHERE, client_manager=manager)
    emitter = RedisEmitter(NOWHERE, channel="guichet")
    published: dict[str, list[dict[str, Any]]] = {"socketio": [], "worker": []}
    manager._publish = published["socketio"].append  # type: ignore[method-assign]
    emitter._publish = published["worker"].append  # type: ignore[method-assign]

    payload = {"label": "B-007", "counter": "Guichet 3", "service_name": "Carte d'identité"}
    for name, target in (("socketio", reference), ("worker", emitter)):
        events.emit_now(
            target,
            [
                events.PendingEvent(events.TICKET_CALLED, events.site_room("thies"), payload),
                events.PendingEvent(events.QUEUE_CHANGED, events.agents_room("thies"), {}),
            ],
        )
        events.disconnect_now(target, {events.device_room(4)})
        assert len(published[name]) == 3

    for message in published["socketio"] + published["worker"]:
        message.pop("host_id")
    assert published["worker"] == published["socketio"]
    assert [emitter.json.dumps(m) for m in published["worker"]] == [
        manager.json.dumps(m) for m in published["socketio"]
    ]
