"""The demo portal page (/) in Chromium: both scripts run under its strict CSP."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, settle

pytestmark = pytest.mark.browser


def test_demo_page_counts_itself_and_shows_the_widget(service, page):
    """The demo page's beacon counts it, its widgets fill in, and nothing hits the console
    (a CSP violation would)."""
    service.add_site("demo")
    page.goto(service.url)
    settle(page, service)
    assert [h["url"] for h in service.log.of("pageview")] == [service.url]

    blocks = page.locator("[data-visitor-stats]")
    expect(blocks).to_have_count(2)
    for n in range(2):
        expect(blocks.nth(n)).to_have_attribute("data-va-state", "ok")
        expect(blocks.nth(n).locator(".va-num")).to_have_text([re.compile(r"^[01]$")] * 4)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
    assert page.problems == []


@pytest.mark.parametrize("width", [320, 1280])
def test_demo_page_fits_the_screen(service, page, width):
    """At 320 px (a small phone) and 1280 px the page is exactly as wide as the screen: snippets
    scroll inside their boxes, which a keyboard can focus. Screenshots: tests/artifacts/demo-<width>.png."""
    service.add_site("demo")
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(service.url)
    blocks = page.locator("[data-visitor-stats]")
    for n in range(2):
        expect(blocks.nth(n)).to_have_attribute("data-va-state", "ok")
    assert page.evaluate("document.documentElement.scrollWidth") == width
    wider = page.evaluate(f"""[...document.querySelectorAll('body *')]
        .filter(el => el.getBoundingClientRect().right > {width} + 0.5 && !el.closest('pre'))
        .map(el => el.tagName + '.' + el.className)""")
    assert wider == []
    for block in blocks.all():
        box = block.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
    snippets = page.locator(".embed pre")
    for n in range(snippets.count()):
        snippet = snippets.nth(n)
        assert snippet.get_attribute("tabindex") == "0" and snippet.get_attribute("aria-label")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"demo-{width}.png"), full_page=True)
    assert page.problems == []
