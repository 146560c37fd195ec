"""The citizen's tracking page: alerts when called, and light enough for 3G.

In Chromium at phone size (vibration and sound observed through a spy), and
its weight in bytes, raw and compressed, as a cheap phone downloads it.
"""

from __future__ import annotations

import gzip
import re
from typing import Any

import pytest

from .conftest import PHONE, Api, Office, shot

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

SPY = """
(() => {
  window.__vibrations = [];
  window.__tones = 0;
  Object.defineProperty(navigator, "vibrate", {
    value: (pattern) => { window.__vibrations.push(pattern); return true; },
    configurable: true,
  });
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.__tones += 1;
    return start.apply(this, args);
  };
})();
"""

# What a first visit may weigh at most (HTML, CSS, scripts, icon), raw and gzip.
BUDGET_RAW = 100_000
BUDGET_GZIP = 35_000


@pytest.mark.browser
@pytest.mark.slow
def test_the_phone_vibrates_and_rings_when_called(make_page, live_server, office: Office):
    api = Api(live_server.app, office)
    ahead, mine = api.issue("CNI"), api.issue("CNI")
    page = make_page(PHONE)
    page.add_init_script(SPY)
    page.goto(f"{live_server.url}/t/{mine['code']}")
    expect(page.locator("#track")).to_have_attribute("data-status", "waiting")
    button = page.get_by_role("button", name="Me prévenir par un son et une vibration")
    expect(button).to_be_visible()
    expect(page.locator('[data-field="position_text"]')).to_have_text("1 personne avant vous")
    button.click()
    button = page.locator("#alert-toggle")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_contain_text("Son et vibration activés")
    shot(page, "track-waiting-phone")
    tapped = page.evaluate("window.__vibrations.length")

    api.open_counter("g2", "agent2")
    assert api.call_next("g2", "agent2").get_json()["label"] == ahead["label"]
    # Moved up live: the words of the paper ticket, the kiosk and the SMS; no "0 min".
    expect(page.locator('[data-field="position_text"]')).to_have_text("Vous êtes le prochain !")
    expect(page.locator('[data-field="wait_text"]')).to_have_text("")
    shot(page, "track-next-phone")
    assert page.evaluate("window.__vibrations.length") == tapped  # not for a move up
    assert api.call_next("g2", "agent2").get_json()["label"] == mine["label"]
    expect(page.locator("#track")).to_have_attribute("data-status", "called")
    expect(page.locator("#track")).to_have_attribute("data-alerted", "yes")
    expect(page.get_by_text("C'est votre tour !")).to_be_visible()
    assert page.evaluate("window.__vibrations.length") == tapped + 1
    assert page.evaluate("window.__vibrations.at(-1)") == [400, 150, 400, 150, 400]
    assert page.evaluate("window.__tones") >= 3
    assert "C'est votre tour" in page.title()
    shot(page, "track-called-phone")


def _assets(html: str) -> list[str]:
    return re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(/[^"]+)"', html)


def page_weight(client: Any, url: str) -> dict[str, int]:
    """Bytes of a page and everything it loads from the server, raw and gzip-compressed."""
    page = client.get(url)
    assert page.status_code == 200
    bodies = [page.data]
    for asset in _assets(page.get_data(as_text=True)):
        response = client.get(asset)
        assert response.status_code == 200, asset
        bodies.append(response.data)
        response.close()
    return {
        "files": len(bodies),
        "raw": sum(len(body) for body in bodies),
        "gzip": sum(len(gzip.compress(body, 6)) for body in bodies),
    }


def test_the_tracking_page_is_light_for_3g(app, office: Office, api: Api):
    ticket = api.issue("CNI")
    weight = page_weight(app.test_client(), f"/t/{ticket['code']}")
    print(f"\ntracking page: {weight}")  # noqa: T201 (pytest -s shows the figures)
    assert weight["files"] == 5  # the page, its stylesheet, two scripts, the icon
    assert weight["raw"] < BUDGET_RAW
    assert weight["gzip"] < BUDGET_GZIP
