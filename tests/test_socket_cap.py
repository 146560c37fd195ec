"""The per-address bound on realtime connections caps anonymous phones only.

Behind an office's router, every phone following its ticket and every screen
of the office share one address. Once the phones hold every anonymous place,
a paired display, counter screen, tablet or print agent, and an agent signed in
to the console, must still connect; another phone is refused (429), and so is
a client that only pretends to carry a token. The bound is small here (3) so
that the test holds few sockets. Sockets are real: raw Engine.IO/Socket.IO v4
WebSockets to the live server, and the display and console pages in Chromium.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from .conftest import PASSWORD, Api, LiveServer, Office

CAP = 3


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS": CAP}


class Refused(Exception):
    """The handshake was answered with an HTTP error."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def open_socket(
    url: str,
    *,
    auth: dict[str, Any] | None = None,
    query: str = "",
    header: list[str] | None = None,
    cookie: str | None = None,
) -> websocket.WebSocket:
    """A Socket.IO client connected to the default namespace, as the front ends connect."""
    address = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket" + query
    try:
        ws = websocket.create_connection(address, timeout=10, header=header, cookie=cookie)
    except websocket.WebSocketBadStatusException as error:
        raise Refused(error.status_code) from None
    opened = ws.recv()
    assert opened.startswith("0{"), opened
    ws.send("40" + (json.dumps(auth) if auth else ""))
    while True:
        packet = ws.recv()
        if packet == "2":  # a ping before the connect answer
            ws.send("3")
            continue
        assert packet.startswith("40{"), packet  # connected, not "44" (refused)
        return ws


@pytest.fixture
def sockets() -> Iterator[list[websocket.WebSocket]]:
    held: list[websocket.WebSocket] = []
    yield held
    for ws in held:
        ws.close()


@pytest.fixture
def phones_hold_the_cap(live_server: LiveServer, sockets: list[Any]) -> list[Any]:
    """CAP tracking pages connected (anonymous), and one more refused."""
    for _ in range(CAP):
        sockets.append(open_socket(live_server.url))
    with pytest.raises(Refused) as refused:
        open_socket(live_server.url)
    assert refused.value.status == 429
    return sockets


def test_paired_devices_connect_while_phones_hold_the_cap(
    live_server: LiveServer, office: Office, phones_hold_the_cap: list[Any]
) -> None:
    url, tokens = live_server.url, office.tokens
    held = phones_hold_the_cap
    g1 = office.counters["g1"].id
    # As display.js, counter.js and feedback.js connect: the token in the query and in auth.
    held.append(
        open_socket(url, auth={"token": tokens["display"]}, query=f"&token={tokens['display']}")
    )
    counter_screen = {"token": tokens["display"], "counter": g1}
    held.append(open_socket(url, auth=counter_screen, query=f"&token={tokens['display']}"))
    tablet = {"token": tokens["tablet"], "counter": g1}
    held.append(open_socket(url, auth=tablet, query=f"&token={tokens['tablet']}"))
    # As the print agent connects (python-socketio): a bearer header and auth.
    bearer = [f"Authorization: Bearer {tokens['printer']}"]
    held.append(open_socket(url, auth={"token": tokens["printer"]}, header=bearer))
    held.append(open_socket(url, header=[f"Authorization: Bearer {tokens['kiosk']}"]))
    # Anonymous phones are still capped.
    with pytest.raises(Refused) as refused:
        open_socket(url)
    assert refused.value.status == 429


def test_a_signed_in_agent_connects_while_phones_hold_the_cap(
    live_server: LiveServer, office: Office, phones_hold_the_cap: list[Any]
) -> None:
    import requests

    with requests.Session() as http:
        page = http.get(f"{live_server.url}/login")
        csrf = page.text.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        form = {"csrf_token": csrf, "email": office.users["agent"].email, "password": PASSWORD}
        assert http.post(f"{live_server.url}/login", data=form).status_code == 200
        cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    phones_hold_the_cap.append(open_socket(live_server.url, auth={"site": "thies"}, cookie=cookie))


def test_a_made_up_token_or_cookie_is_an_anonymous_phone(
    live_server: LiveServer, office: Office, phones_hold_the_cap: list[Any]
) -> None:
    url = live_server.url
    for attempt in (
        {"query": "&token=gd_not-a-real-token"},
        {"header": ["Authorization: Bearer gd_not-a-real-token"]},
        {"cookie": "session=eyJub3QiOiJzaWduZWQifQ.forged.signature"},
    ):
        with pytest.raises(Refused) as refused:
            open_socket(url, **attempt)
        assert refused.value.status == 429, attempt


@pytest.mark.browser
def test_the_display_tablet_and_console_pages_connect_while_phones_hold_the_cap(
    make_page: Any, live_server: LiveServer, office: Office, phones_hold_the_cap: list[Any]
) -> None:
    from playwright.sync_api import expect

    url = live_server.url
    display = make_page()
    display.goto(f"{url}/display/thies?token={office.tokens['display']}")
    expect(display.locator("body")).to_have_attribute("data-online", "yes")
    screen = make_page()
    g2 = office.counters["g2"].id
    screen.goto(f"{url}/display/thies/counters/{g2}?token={office.tokens['display']}")
    expect(screen.locator("body")).to_have_attribute("data-online", "yes")
    tablet = make_page()
    tablet.goto(f"{url}/feedback/{g2}?token={office.tokens['tablet']}")
    expect(tablet.locator("#link")).to_have_attribute("data-state", "on")

    Api(live_server.app, office).open_counter("g1")
    console = make_page()
    console.goto(f"{url}/login")
    console.get_by_label("Adresse e-mail").fill(office.users["agent"].email)
    console.get_by_label("Mot de passe").fill(PASSWORD)
    console.get_by_role("button", name="Se connecter").click()
    console.goto(f"{url}/agent/counters/{office.counters['g1'].id}")
    expect(console.locator("#live")).to_have_attribute("data-state", "on")
