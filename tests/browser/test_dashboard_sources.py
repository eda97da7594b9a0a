"""The sources and devices panels in Chromium: drawn under the dashboard's CSP with no console error, the
period switch by keyboard, axe finds nothing serious (vi, en, phone), and screenshots into tests/artifacts/."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from service import utc_now
from service.dashboard.middleware import CSP
from service.model.hits import Hit

from ..helpers import ADMIN
from .conftest import ARTIFACTS
from .test_accessibility import BLOCKING, axe_violations
from .test_dashboard import sign_in

pytestmark = pytest.mark.browser

READERS = [  # (weight, channel, source, device, browser, os, app)
    (30, "search", "Google", "mobile", "Chrome Mobile", "Android", "none"),
    (9, "search", "Cốc Cốc", "desktop", "Cốc Cốc", "Windows", "none"),
    (3, "search", "Bing", "desktop", "Edge", "Windows", "none"),
    (18, "social", "Zalo", "mobile", "Mobile Safari", "iOS", "Zalo"),
    (12, "social", "Facebook", "mobile", "Chrome Mobile", "Android", "Facebook"),
    (20, "direct", "", "desktop", "Chrome", "Windows", "none"),
    (5, "referral", "baochinhphu.vn", "desktop", "Firefox", "Linux", "none"),
    (3, "referral", "vnexpress.net", "tablet", "Mobile Safari", "iOS", "none"),
    (2, "email", "Gmail", "desktop", "Chrome", "macOS", "none"),
    (4, "internal", "travinh-vh", "desktop", "Chrome", "Windows", "none"),
    (2, "campaign", "ban-tin-thang-11", "mobile", "Samsung Internet", "Android", "none"),
    (1, "referral", "=cmd|' /C calc'!A0", "other", "Opera", "Other", "TikTok"),
]
"""Where the seeded readers come from, and on what, with how often."""


@pytest.fixture
def readers(service):
    """The site "portal" with 60 days of visits from varied sources and devices (a few hundred a week)."""
    store = service.client.application.extensions["store"]
    rng, now = random.Random(11), utc_now()
    weights = [r[0] for r in READERS]
    for back in range(60):
        at = now - timedelta(days=back, minutes=30)
        hits = []
        for n in range(rng.randint(20, 60) if back else 80):
            _, channel, source, device, browser, os_, app = rng.choices(READERS, weights)[0]
            hits.append(Hit("portal", f"r{back}-{n}", "pageview", at + timedelta(seconds=n), "Asia/Ho_Chi_Minh",
                            page="/tin-tuc", channel=channel, source=source, device=device, browser=browser, os=os_,
                            app=app))
        store.record_hits(hits, f"readers-{back}")
    return service


def test_panels_render_under_the_csp_and_the_period_switches_by_keyboard(readers, page):
    """The panels draw their bars under the strict CSP with no console error; following the "today" link
    by keyboard shows today's channels, the API's numbers."""
    sign_in(page, readers, "en")
    response = page.goto(f"{readers.url}dashboard/sites/portal")
    assert response.headers["content-security-policy"] == CSP
    panel = page.locator("[data-sources-panel]")
    expect(panel).to_have_attribute("data-period", "30d")
    bars = page.locator("[data-channels-chart] .fill")
    assert bars.count() == 7
    assert bars.first.bounding_box()["width"] > 0.3 * page.locator("[data-channels-chart]").bounding_box()["width"]
    assert page.locator("[data-sources] tbody tr").count() == 10
    page.locator("#sources nav a", has_text="Today").focus()
    page.keyboard.press("Enter")
    expect(panel).to_have_attribute("data-period", "today")
    assert page.url.endswith("?period=today#sources")
    api = readers.client.get("/api/v1/sites/portal/sources?period=today", headers=ADMIN).get_json()
    shown = page.evaluate("""() => [...document.querySelectorAll('[data-channels] tbody tr')].map(tr =>
        [tr.dataset.channel, tr.querySelector('td').textContent])""")
    assert shown == [[c["channel"], f"{c['visits']:,}"] for c in api["channels"]]
    page.wait_for_load_state("networkidle")
    assert not page.problems, page.problems


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_panels_have_no_serious_accessibility_violation_and_are_photographed(readers, axe_context, lang):
    """axe finds nothing serious or critical on the site screen with both panels filled in, on a desktop and a
    phone; the panels are photographed into tests/artifacts/ (look at them)."""
    page = axe_context.new_page()
    sign_in(page, readers, lang)
    ARTIFACTS.mkdir(exist_ok=True)
    for width, suffix in ((1280, ""), (390, "-phone")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{readers.url}dashboard/sites/portal?period=30d")
        expect(page.locator("[data-list=apps] li").first).to_be_visible()
        for section in ("sources", "devices"):
            page.locator(f"#{section}").screenshot(path=str(ARTIFACTS / f"dashboard-{section}-{lang}{suffix}.png"))
        found = axe_violations(page, f"dashboard-sources-{lang}{suffix}")
        assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, found
    page.close()
