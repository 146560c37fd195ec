"""The waiting-room display and the counter screen in a real Chromium (Playwright).

Calls are made through the API against the live server; the page is watched
as a person in the room would: what it shows, and what it plays and says,
through a spy on ``speechSynthesis`` and on the audio elements (an init
script). Waits are Playwright's auto-waiting assertions with bounds, never
sleeps. Screenshots land in artifacts/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from queue_app.extensions import socketio

from .conftest import DISPLAY_JS, TV_LANDSCAPE, TV_PORTRAIT, Api, Office, reconnect_bound_ms, shot

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VOICE = Path(__file__).resolve().parent.parent / "display" / "static" / "voice" / "fr"

# Records what the page says and plays. With voices=[] the browser has no voice.
SPY = """
(() => {
  const voices = %s;
  window.__spoken = [];
  window.__played = [];
  class Utterance { constructor(text) { this.text = text; this.lang = ""; this.voice = null; } }
  window.SpeechSynthesisUtterance = Utterance;
  const synth = {
    speaking: false, pending: false, paused: false,
    getVoices: () => voices,
    speak(u) {
      window.__spoken.push({ text: u.text, lang: u.lang, at: performance.now() });
      setTimeout(() => u.onend && u.onend({}), 250);
    },
    cancel() {}, pause() {}, resume() {},
    addEventListener() {}, removeEventListener() {},
  };
  Object.defineProperty(window, "speechSynthesis", { value: synth, configurable: true });
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (this.volume > 0) {
      window.__played.push({ src: this.src || this.currentSrc, at: performance.now() });
    }
    return play.call(this);
  };
})();
"""
FRENCH_VOICE = '[{name: "Test fr", lang: "fr-FR", localService: true, default: true}]'
NO_VOICE = "[]"


def open_display(make_page, url: str, token: str, viewport=TV_LANDSCAPE, voices=FRENCH_VOICE):
    page = make_page(viewport)
    page.add_init_script(SPY % voices)
    page.goto(f"{url}/display/thies?token={token}")
    expect(page.locator("body")).to_have_attribute("data-online", "yes")
    return page


def spoken(page: Any) -> list[str]:
    return [item["text"] for item in page.evaluate("window.__spoken")]


def played(page: Any) -> list[str]:
    return [item["src"] for item in page.evaluate("window.__played")]


def wait_spoken(page: Any, count: int) -> list[str]:
    page.wait_for_function("(n) => window.__spoken.length >= n", arg=count, timeout=10000)
    return spoken(page)


def test_a_call_is_shown_within_a_second_and_announced(make_page, live_server, office: Office):
    api = Api(live_server.app, office)
    page = open_display(make_page, live_server.url, office.tokens["display"])
    expect(page.locator("#site-name")).to_have_text("Espace Sénégal Services thies")
    expect(page.locator("#now")).to_have_attribute("data-state", "idle")
    expect(page.locator("#clock")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    shot(page, "display-idle-landscape", full_page=False)

    ticket = api.issue("CNI")
    api.issue("CASIER")
    expect(page.locator('[data-service="CNI"] .count-n')).to_have_text("1")
    api.open_counter("g2", "agent2")
    assert api.call_next("g2", "agent2").status_code == 200
    expect(page.locator("#now-label")).to_have_text(ticket["label"], timeout=1000)
    expect(page.locator("#now-counter")).to_have_text("Guichet 2", timeout=1000)
    expect(page.locator("#now")).to_have_class(re.compile("flash"))
    assert wait_spoken(page, 1) == ["Ticket B 1, Guichet 2"]
    chime = [item for item in page.evaluate("window.__played") if "chime" in item["src"]]
    assert chime, "the chime played"
    assert chime[0]["at"] <= page.evaluate("window.__spoken[0].at")
    expect(page.locator('[data-service="CNI"] .count-n')).to_have_text("0")

    # A recall is announced again.
    assert api.post(f"tickets/{ticket['id']}/recall", "agent2").status_code == 200
    assert wait_spoken(page, 2) == ["Ticket B 1, Guichet 2"] * 2
    shot(page, "display-call-landscape", full_page=False)


def test_two_calls_a_second_apart_are_both_announced_in_order(
    make_page, live_server, office: Office
):
    api = Api(live_server.app, office)
    page = open_display(make_page, live_server.url, office.tokens["display"])
    first, second = api.issue("CNI"), api.issue("CASIER")
    api.open_counter("g2", "agent2")
    api.open_counter("g3", "agent")
    assert api.call_next("g2", "agent2").get_json()["label"] == first["label"]
    # The room hears the first call while the second one comes a second later.
    page.wait_for_function("() => window.__spoken.length >= 1", timeout=5000)
    page.wait_for_timeout(1000)  # the scenario itself: a second between the two calls
    assert api.call_next("g3", "agent").get_json()["label"] == second["label"]
    expect(page.locator("#now-label")).to_have_text(second["label"])
    expect(page.locator("#recent .r-label").first).to_have_text(first["label"])
    assert wait_spoken(page, 2) == ["Ticket B 1, Guichet 2", "Ticket A 1, Guichet 3"]
    chimes = [item["at"] for item in page.evaluate("window.__played") if "chime" in item["src"]]
    said = [item["at"] for item in page.evaluate("window.__spoken")]
    # chime, speech, chime, speech: never two at once.
    assert len(chimes) == 2
    assert chimes[0] <= said[0] <= chimes[1] <= said[1]


def test_a_display_opened_after_calls_shows_the_current_call(
    make_page, live_server, office: Office
):
    api = Api(live_server.app, office)
    api.open_counter("g1", "agent")
    api.open_counter("g2", "agent2")
    labels = []
    for service, counter, who in [("CNI", "g2", "agent2"), ("CASIER", "g1", "agent")] * 4:
        labels.append(api.issue(service)["label"])
        assert api.call_next(counter, who).status_code == 200
    api.issue("CNI")
    api.issue("CNI")
    put = api.put(f"sites/{office.slug}/display-message", "manager", json={"message": "Bienvenue"})
    assert put.status_code == 200, put.get_json()
    page = open_display(make_page, live_server.url, office.tokens["display"], TV_PORTRAIT)
    expect(page.locator("#now-label")).to_have_text(labels[-1])
    expect(page.locator("#now-counter")).to_have_text("Guichet 1")
    expect(page.locator("#recent .r-label")).to_have_text(list(reversed(labels[:-1])))
    expect(page.locator('[data-service="CNI"] .count-n')).to_have_text("2")
    expect(page.locator("#message")).to_have_text("Bienvenue")
    # Of the calls made before the screen was switched on, those still waiting for
    # their citizen and made seconds ago are announced, in call order, once.
    assert wait_spoken(page, 2) == ["Ticket B 4, Guichet 2", "Ticket A 4, Guichet 1"]
    shot(page, "display-portrait", full_page=False)
    page.set_viewport_size(TV_LANDSCAPE)
    shot(page, "display-landscape-full", full_page=False)
    # The current call and the five before it.
    expect(page.locator("#recent .recent-row:visible")).to_have_count(5)
    # Readable from 10 m: a big label and counter.
    size = page.locator("#now-label").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 200


def test_a_wrong_or_revoked_token_shows_no_call(make_page, live_server, office: Office):
    api = Api(live_server.app, office)
    api.issue("CNI")
    api.open_counter("g1", "agent")
    assert api.call_next("g1", "agent").status_code == 200
    page = make_page(TV_LANDSCAPE)
    page.add_init_script(SPY % FRENCH_VOICE)
    response = page.goto(f"{live_server.url}/display/thies?token=gd_not-a-real-token")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Cet écran n'est pas appairé")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("B-001")
    expect(page.locator("body")).to_contain_text("/display/thies?token=")
    shot(page, "display-not-paired", full_page=False)
    # A kiosk's token is not a display's.
    assert (
        page.goto(f"{live_server.url}/display/thies?token={office.tokens['kiosk']}").status == 403
    )

    # A paired screen whose token is revoked goes back to the pairing page.
    display = open_display(make_page, live_server.url, office.tokens["display"])
    expect(display.locator("#now-label")).to_have_text("B-001")
    devices = api.get(f"sites/{office.slug}/devices", "manager").get_json()
    display_id = next(d["id"] for d in devices if d["kind"] == "display")
    assert (
        api.post(f"sites/{office.slug}/devices/{display_id}/revoke", "manager").status_code == 200
    )
    socketio.emit("resync", {"reason": "test"})  # as the server does when it may have missed
    display.reload()
    expect(display.get_by_role("heading", name="Cet écran n'est pas appairé")).to_be_visible()


def test_a_display_that_lost_its_socket_catches_up(make_page, live_server, office: Office):
    api = Api(live_server.app, office)
    links: list[Any] = []
    network = {"up": True}

    def websocket(ws: Any) -> None:
        if not network["up"]:
            ws.close()
            return
        ws.connect_to_server()
        links.append(ws)

    page = make_page(TV_LANDSCAPE)
    page.add_init_script(SPY % FRENCH_VOICE)
    page.route_web_socket(re.compile(r"/socket\.io/"), websocket)
    page.goto(f"{live_server.url}/display/thies?token={office.tokens['display']}")
    expect(page.locator("body")).to_have_attribute("data-online", "yes")
    expect(page.locator("#offline")).to_be_hidden()
    page.evaluate("window.notReloaded = true")

    network["up"] = False
    page.route("**/*", lambda route: route.abort("internetdisconnected"))
    for ws in links:
        ws.close()
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#offline")).to_have_text("hors ligne")
    shot(page, "display-offline", full_page=False)
    # Meanwhile an agent calls a citizen.
    ticket = api.issue("CASIER")
    api.open_counter("g3", "agent")
    assert api.call_next("g3", "agent").status_code == 200

    page.unroute("**/*")
    network["up"] = True
    expect(page.locator("#offline")).to_be_hidden(timeout=reconnect_bound_ms(DISPLAY_JS))
    expect(page.locator("#now-label")).to_have_text(ticket["label"])
    expect(page.locator("#now-counter")).to_have_text("Guichet 3")
    # Missed a few seconds ago: still announced, once.
    assert wait_spoken(page, 1) == ["Ticket A 1, Guichet 3"]
    assert page.evaluate("window.notReloaded") is True


def test_the_counter_screen_shows_the_ticket_served_there(make_page, live_server, office: Office):
    api = Api(live_server.app, office)
    g1 = office.counters["g1"].id
    page = make_page({"width": 1280, "height": 720})
    page.goto(f"{live_server.url}/display/thies/counters/{g1}?token={office.tokens['display']}")
    expect(page.locator("body")).to_have_attribute("data-online", "yes")
    expect(page.locator("#cd-counter")).to_have_text("Guichet 1")
    expect(page.locator("#cd-note")).to_have_text("Fermé")
    api.open_counter("g1", "agent")
    expect(page.locator("#cd-note")).to_have_text("Libre")
    ticket = api.issue("CNI")
    assert api.call_next("g1", "agent").status_code == 200
    expect(page.locator("#cd-label")).to_have_text(ticket["label"])
    expect(page.locator("#cd-note")).to_have_text("")
    shot(page, "counter-screen", full_page=False)
    # Another counter's call does not show here.
    api.issue("CNI")
    api.open_counter("g2", "agent2")
    assert api.call_next("g2", "agent2").status_code == 200
    assert api.post(f"tickets/{ticket['id']}/finish", "agent").status_code == 200
    expect(page.locator("#cd-label")).to_have_text("—")
    expect(page.locator("#cd-note")).to_have_text("Libre")
    assert api.post(f"counters/{g1}/pause", "agent", json={"reason": "lunch"}).status_code == 200
    expect(page.locator("#cd-note")).to_have_text("En pause")
    # An unknown counter, or one of another site, is not shown.
    token = office.tokens["display"]
    assert page.goto(f"{live_server.url}/display/thies/counters/999999?token={token}").status == 404


def test_without_a_voice_the_recorded_clips_are_joined(make_page, live_server, office: Office):
    api = Api(live_server.app, office)
    page = open_display(make_page, live_server.url, office.tokens["display"], voices=NO_VOICE)
    ticket = api.issue("CNI")
    api.open_counter("g2", "agent2")
    assert api.call_next("g2", "agent2").status_code == 200
    expect(page.locator("#now-label")).to_have_text(ticket["label"])
    page.wait_for_function("() => window.__played.length >= 6", timeout=10000)
    names = [src.rsplit("/", 1)[-1] for src in played(page)]
    # chime, "ticket", "bé", "un", "guichet", "deux": the set built by `make voice`.
    assert names == [
        "chime.ogg",
        "ticket.ogg",
        "letter-b.ogg",
        "number-1.ogg",
        "counter.ogg",
        "number-2.ogg",
    ]
    assert all("/display/static/voice/fr/" in src for src in played(page)[1:])
    assert spoken(page) == []


def test_the_offices_own_recordings_come_first(make_page, live_server, office: Office):
    api = Api(live_server.app, office)
    # The office records "ticket", "B", "1" and its counter's whole name.
    g2 = office.counters["g2"].id
    for key, source in [
        ("ticket", "ticket"),
        ("letter-b", "letter-b"),
        ("number-1", "number-1"),
        (f"counter-{g2}", "number-2"),
    ]:
        response = api.put(
            f"sites/{office.slug}/voice-clips/fr/{key}",
            "admin",
            data=(VOICE / f"{source}.ogg").read_bytes(),
            headers={"Content-Type": "audio/ogg"},
        )
        assert response.status_code == 200, response.get_json()
    page = open_display(make_page, live_server.url, office.tokens["display"])
    api.issue("CNI")
    api.open_counter("g2", "agent2")
    assert api.call_next("g2", "agent2").status_code == 200
    page.wait_for_function("() => window.__played.length >= 5", timeout=10000)
    sources = played(page)
    assert "chime.ogg" in sources[0]
    # Fetched with the display's token from the API, played from memory, in order.
    assert all(src.startswith("blob:") for src in sources[1:5])
    assert spoken(page) == []  # preferred to the browser's voice


def test_message_line_and_a_second_waiting_room(make_page, live_server, office: Office):
    api = Api(live_server.app, office)
    page = open_display(make_page, live_server.url, office.tokens["display"])
    expect(page.locator("#message")).to_be_hidden()
    message = "Le service CNI ferme à 15 h ce vendredi."
    assert (
        api.put(
            f"sites/{office.slug}/display-message", "manager", json={"message": message}
        ).status_code
        == 200
    )
    expect(page.locator("#message")).to_have_text(message)

    # A second room's screen shows and announces the criminal-record service only.
    created = api.post(
        f"sites/{office.slug}/devices", "manager", json={"kind": "display", "name": "Salle 2"}
    ).get_json()
    configured = api.put(
        f"sites/{office.slug}/devices/{created['id']}/services",
        "manager",
        json={"services": ["CASIER"]},
    )
    assert configured.get_json()["services"] == ["CASIER"]
    room2 = open_display(make_page, live_server.url, created["token"])
    expect(room2.locator("#message")).to_have_text(message)
    expect(room2.locator("[data-service]")).to_have_count(1)
    expect(room2.locator('[data-service="CASIER"]')).to_be_visible()
    cni, casier = api.issue("CNI"), api.issue("CASIER")
    api.open_counter("g2", "agent2")
    api.open_counter("g3", "agent")
    assert api.call_next("g2", "agent2").get_json()["label"] == cni["label"]
    expect(page.locator("#now-label")).to_have_text(cni["label"])
    assert api.call_next("g3", "agent").get_json()["label"] == casier["label"]
    expect(room2.locator("#now-label")).to_have_text(casier["label"])
    expect(page.locator("#now-label")).to_have_text(casier["label"])
    assert wait_spoken(room2, 1) == ["Ticket A 1, Guichet 3"]
    assert wait_spoken(page, 2) == ["Ticket B 1, Guichet 2", "Ticket A 1, Guichet 3"]
    expect(room2.locator("#recent .r-label")).to_have_count(0)

    # Configured back for every service, the screen reloads by itself and shows them all.
    room2.evaluate("window.notReloaded = true")
    assert (
        api.put(
            f"sites/{office.slug}/devices/{created['id']}/services",
            "manager",
            json={"services": []},
        ).status_code
        == 200
    )
    room2.wait_for_function("() => window.notReloaded === undefined", timeout=5000)
    expect(room2.locator("[data-service]")).to_have_count(2)
    expect(room2.locator("#recent .r-label")).to_have_text([cni["label"]])


def test_a_new_server_version_reloads_the_display(make_page, live_server, office, monkeypatch):
    from queue_app.realtime import sockets
    from queue_app.web import display

    page = open_display(make_page, live_server.url, office.tokens["display"])
    page.evaluate("window.notReloaded = true")
    # A deploy: the server now answers another version; Redis came back, say.
    monkeypatch.setattr(sockets, "server_version", lambda: "9.9.9+new")
    monkeypatch.setattr(display, "server_version", lambda: "9.9.9+new")
    socketio.emit("resync", {"reason": "message queue reconnected"})
    page.wait_for_function("() => window.notReloaded === undefined", timeout=5000)
    expect(page.locator("body")).to_have_attribute("data-online", "yes")
    config = page.locator("#display-config").text_content()
    assert "9.9.9+new" in config


def test_the_display_survives_a_server_restart(make_page, tmp_path):
    """`make demo`'s server (queue-app run, gevent) stopped and started again."""
    import os
    import subprocess
    import sys
    import time

    import requests

    from .test_realtime import _free_port

    queue_app = str(Path(sys.executable).with_name("queue-app"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_APP_")}
    env.update(QUEUE_APP_INSTANCE_PATH=str(tmp_path / "instance"), QUEUE_APP_LOG_LEVEL="WARNING")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    demo = subprocess.run(
        [queue_app, "demo", "--no-history"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    display_url = re.search(r"Display \(TV\)\s+(\S+)", demo.stdout).group(1)
    kiosk = re.search(r"kiosk\s+.*?(gd_\w+)", demo.stdout).group(1)

    def start() -> subprocess.Popen:
        server = subprocess.Popen(
            [queue_app, "run", "--port", str(port), "--no-scheduler"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(600):
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    return server
            except requests.RequestException:
                pass
            assert server.poll() is None
            time.sleep(0.1)  # the server is starting: poll its readiness (bounded)
        raise AssertionError("the server did not start")

    def stop(server: subprocess.Popen) -> None:
        server.terminate()
        server.wait(timeout=20)

    page = make_page(TV_LANDSCAPE)
    page.add_init_script(SPY % FRENCH_VOICE)
    server = start()
    try:
        page.goto(display_url.replace("http://127.0.0.1:5000", base))
        expect(page.locator("body")).to_have_attribute("data-online", "yes")
        page.evaluate("window.notReloaded = true")
        stop(server)
        expect(page.locator("#offline")).to_be_visible()
        server = start()
        expect(page.locator("body")).to_have_attribute(
            "data-online", "yes", timeout=reconnect_bound_ms(DISPLAY_JS)
        )
        ticket = requests.post(
            f"{base}/api/v1/sites/demo/tickets",
            json={"service": "CNI"},
            headers={"Authorization": f"Bearer {kiosk}"},
            timeout=10,
        ).json()
        agent = requests.post(
            f"{base}/api/v1/auth/token",
            json={"email": "agent@guichet.demo", "password": "demo-agent-2026"},
            timeout=10,
        ).json()["token"]
        headers = {"Authorization": f"Bearer {agent}"}
        counters = requests.get(f"{base}/api/v1/sites/demo/counters", headers=headers, timeout=10)
        counter = next(c for c in counters.json() if "CNI" in c["services"])
        requests.post(f"{base}/api/v1/counters/{counter['id']}/open", headers=headers, timeout=10)
        called = requests.post(
            f"{base}/api/v1/counters/{counter['id']}/call-next", headers=headers, timeout=10
        )
        assert called.json()["label"] == ticket["label"]
        expect(page.locator("#now-label")).to_have_text(ticket["label"])
        assert wait_spoken(page, 1)[0].startswith("Ticket B 1, ")
        assert page.evaluate("window.notReloaded") is True
    finally:
        stop(server)


# A manager's notice as long as the form allows (280 characters), read whole from the room.
LONG_NOTICE = (
    "En raison d'une coupure d'électricité annoncée par la Senelec, l'Espace Sénégal "
    "Services fermera à 13 h ce vendredi. Les tickets pris après "
    "11 h 30 seront servis lundi en priorité. Les rendez-vous de l'après-midi sont "
    "reportés : vous recevrez un SMS. Merci de votre compréhension."
)

# Whole inside the window, and not cut inside its own box (no ellipsis, no hidden overflow).
_WHOLE = """
(selector) => Array.from(document.querySelectorAll(selector)).map((el) => {
  const r = el.getBoundingClientRect();
  return {
    text: el.textContent.slice(0, 30),
    inside: r.width > 0 && r.top >= 0 && r.left >= 0
      && r.bottom <= innerHeight + 0.5 && r.right <= innerWidth + 0.5,
    fits: el.scrollWidth <= el.clientWidth + 1 && el.scrollHeight <= el.clientHeight + 1,
    ellipsis: getComputedStyle(el).textOverflow === 'ellipsis'
      && getComputedStyle(el).overflow !== 'visible'
      && getComputedStyle(el).whiteSpace === 'nowrap',
    box: [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)],
    hit: el.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)),
  };
})
"""


@pytest.mark.parametrize("viewport", [TV_LANDSCAPE, TV_PORTRAIT], ids=["landscape", "portrait"])
def test_a_long_notice_is_read_whole_and_leaves_the_previous_calls(
    make_page, live_server, office: Office, viewport
):
    assert len(LONG_NOTICE) == 280
    api = Api(live_server.app, office)
    page = open_display(make_page, live_server.url, office.tokens["display"], viewport=viewport)
    api.open_counter("g2", "agent2")
    labels = []
    for _ in range(6):
        ticket = api.issue("CNI")
        called = api.call_next("g2", "agent2")
        assert called.status_code == 200
        labels.append(called.get_json()["label"])
        assert api.post(f"tickets/{ticket['id']}/finish", "agent2").status_code == 200
    put = api.put(f"sites/{office.slug}/display-message", "manager", json={"message": LONG_NOTICE})
    assert put.status_code == 200
    expect(page.locator("#message")).to_have_text(LONG_NOTICE)
    expect(page.locator("#now-label")).to_have_text(labels[-1])
    previous = labels[-2::-1]
    expect(page.locator("#recent .r-label").first).to_have_text(previous[0])
    # The flash over, as the room sees the screen most of the time.
    page.evaluate("document.getElementById('now').classList.remove('flash')")
    name = "landscape" if viewport is TV_LANDSCAPE else "portrait"
    shot(page, f"display-long-notice-{name}", full_page=False)

    (message,) = page.evaluate(_WHOLE, "#message")
    assert message["inside"], message
    assert message["fits"], message
    assert not message["ellipsis"], message
    rows = page.evaluate(_WHOLE, "#recent .recent-row")
    shown = [row for row in rows if row["box"][3] > row["box"][1]]
    assert len(rows) >= 4
    assert [row["text"].split("➜")[0] for row in rows[:4]] == previous[:4]
    # Seen whole: inside the window and inside the list that clips them, nothing over them.
    recent = page.evaluate(
        "(() => { const r = document.getElementById('recent').getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })()"
    )

    def seen(row: dict[str, Any]) -> bool:
        left, top, right, bottom = row["box"]
        return (
            row["inside"]
            and recent[0] - 1 <= left
            and recent[1] - 1 <= top
            and right <= recent[2] + 1
            and bottom <= recent[3] + 1
        )

    cut = [row for row in rows[:4] if not seen(row) or not row["hit"]]
    assert not cut, f"previous calls pushed off the screen: {cut}"
    # A row is shown whole or not at all: never half a ticket number.
    half = [
        row
        for row in shown
        if row["box"][1] < recent[3] - 1 < row["box"][3] - 1 and row["box"][0] < recent[2]
    ]
    assert not half, f"a previous call is cut in half: {half}"
    (now,) = page.evaluate(_WHOLE, "#now")
    assert now["inside"], now


def test_a_closed_or_paused_counter_shows_its_state_alone(make_page, live_server, office: Office):
    """No "ticket en cours" heading above "Fermé" or "En pause": nothing is being served."""
    api = Api(live_server.app, office)
    g1 = office.counters["g1"].id
    page = make_page(TV_LANDSCAPE)
    page.goto(f"{live_server.url}/display/thies/counters/{g1}?token={office.tokens['display']}")
    expect(page.locator("body")).to_have_attribute("data-online", "yes")
    caption, note = page.locator("#cd-caption"), page.locator("#cd-note")
    expect(note).to_have_text("Fermé")
    expect(note).to_be_visible()
    expect(caption).to_be_hidden()
    # What the room reads (inner_text follows CSS): the counter and its state, no heading.
    assert page.locator("#cd").inner_text().split() == ["Guichet", "1", "Fermé"]
    shot(page, "counter-screen-closed", full_page=False)

    api.open_counter("g1", "agent")
    ticket = api.issue("CNI")
    assert api.call_next("g1", "agent").status_code == 200
    expect(page.locator("#cd-label")).to_have_text(ticket["label"])
    expect(caption).to_be_visible()

    assert api.post(f"tickets/{ticket['id']}/finish", "agent").status_code == 200
    assert api.post(f"counters/{g1}/pause", "agent", json={"reason": "lunch"}).status_code == 200
    expect(note).to_have_text("En pause")
    expect(caption).to_be_hidden()
    assert page.locator("#cd").inner_text().split() == ["Guichet", "1", "En", "pause"]
    shot(page, "counter-screen-paused", full_page=False)
