"""The display says so when the browser blocks sound, and a touch turns it on.

Its own module: the browser here keeps Chromium's default autoplay policy (the
shared fixture allows autoplay, as the display PC's command line in
docs/operations/display-pc.md does).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import CHROMIUM_ARGS, TV_LANDSCAPE, shot

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def strict_browser(chromium_path: str) -> Iterator[Any]:
    flags = [flag for flag in CHROMIUM_ARGS if not flag.startswith("--autoplay-policy")]
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[*flags, "--autoplay-policy=document-user-activation-required"],
        )
        yield browser
        browser.close()


def test_a_blocked_sound_is_shown_and_a_touch_turns_it_on(strict_browser, live_server, office):
    context = strict_browser.new_context(viewport=TV_LANDSCAPE, locale="fr-FR")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server.url}/display/thies?token={office.tokens['display']}")
        banner = page.locator("#sound-blocked")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("Le son est bloqué par le navigateur.")
        expect(page.locator("body")).to_have_attribute("data-sound", "blocked")
        shot(page, "display-sound-blocked", full_page=False)
        page.mouse.click(960, 540)
        expect(banner).to_be_hidden()
        expect(page.locator("body")).to_have_attribute("data-sound", "on")
        assert errors == []
    finally:
        context.close()
