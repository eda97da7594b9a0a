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
