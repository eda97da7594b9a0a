"""The demo portal page (/) in Chromium: both scripts run under its strict CSP."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, settle

pytestmark = pytest.mark.browser


def test_demo_page_counts_itself_and_shows_the_widget(service, page):
    """The demo page's beacon counts it, its block, views and most-read list fill in, and nothing
    hits the console (a CSP violation would)."""
    service.add_site("demo")
    page.goto(service.url)
    settle(page, service)
    assert [h["url"] for h in service.log.of("pageview")] == [service.url]

    blocks = page.locator("[data-visitor-stats]")
    expect(blocks).to_have_count(2)
    for n, rows in enumerate([6, 4]):
        expect(blocks.nth(n)).to_have_attribute("data-va-state", "ok")
        expect(blocks.nth(n).locator(".va-num")).to_have_text([re.compile(r"^[01]$")] * rows)
    # "Lượt xem" under the article (this page) and in the list of other articles (never read: 0)
    views = page.locator("[data-visitor-views] .vv")
    expect(views).to_have_text(["Lượt xem: 1"] + ["Lượt xem: 0"] * 3)
    # "Tin đọc nhiều": this page, titled by its beacon, linked on its own origin
    top = page.locator("[data-visitor-top]")
    expect(top).to_have_attribute("data-va-state", "ok")
    expect(top.locator("li:visible a")).to_have_text([page.title()])
    assert top.locator("li a").first.get_attribute("href") == service.url
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
    assert page.problems == []


@pytest.mark.parametrize("width", [320, 1280])
def test_demo_page_fits_the_screen(service, page, width):
    """At 320 px (a small phone) and 1280 px the page is exactly as wide as the screen: snippets
    scroll inside their boxes, which a keyboard can focus. Screenshots: tests/artifacts/demo-<width>.png,
    demo-article-<width>.png and demo-sidebar-<width>.png."""
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
    expect(page.locator("[data-visitor-top]")).to_have_attribute("data-va-state", "ok")
    page.locator(".post").screenshot(path=str(ARTIFACTS / f"demo-article-{width}.png"))
    page.locator(".sidebar").screenshot(path=str(ARTIFACTS / f"demo-sidebar-{width}.png"))
    assert page.problems == []
