"""The dashboard in Chromium: its table holds the history API's numbers, it works under its CSP with
no console error, axe finds nothing serious, and screenshots of both screens in both languages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from service import utc_now
from service.dashboard.middleware import CSP

from ..conftest import ADMIN_TOKEN
from ..helpers import ADMIN, seed_history
from .conftest import ARTIFACTS, DESKTOP_CHROME
from .test_accessibility import BLOCKING, axe_violations

pytestmark = pytest.mark.browser

SITES = {"portal": 90, "travinh": 60, "hue-gov": 20}
"""Sites of the operator's screen and the days of traffic each gets."""


@pytest.fixture
def seeded(service):
    """The service with three sites and days of traffic written through the real hit script."""
    now = utc_now()
    for site, days in SITES.items():
        if site != "portal":
            service.add_site(site, domains=(f"{site}.gov.vn",))
        seed_history(service.client.application.extensions["store"], site, days, now)
    return service


def sign_in(page, service, lang: str = "vi") -> None:
    page.goto(f"{service.url}dashboard/signin?lang={lang}")
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Các trang" if lang == "vi" else "Sites")


def number(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def test_site_table_shows_exactly_the_history_api_numbers(seeded, page):
    """For 90 days of traffic, every row of the chart's accessible table equals the history API's day."""
    sign_in(page, seeded)
    page.goto(f"{seeded.url}dashboard/sites/portal?days=90")
    shown = page.evaluate("""() => [...document.querySelectorAll('[data-daily] tbody tr')].map(tr =>
        [tr.dataset.date, ...[...tr.querySelectorAll('td')].map(td => td.textContent)])""")
    api = seeded.client.get("/api/v1/sites/portal/history?days=90", headers=ADMIN).get_json()["days"]
    assert len(shown) == 90
    assert sum(day["pageviews"] for day in api) > 500
    assert [[d, number(v), number(p), number(u)] for d, v, p, u in reversed(shown)] == \
        [[day["date"], day["visits"], day["pageviews"], day["visitors"]] for day in api]
    assert page.locator(".chart .cols rect").count() == 90
    assert not page.problems, page.problems


def test_chart_readout_follows_the_keyboard(seeded, page):
    """Focusing the chart reads today's numbers; the left arrow moves to the day before."""
    sign_in(page, seeded, "en")
    page.goto(f"{seeded.url}dashboard/sites/portal")
    page.focus("[data-chart]")
    readout = page.locator("[data-readout]")
    api = seeded.client.get("/api/v1/sites/portal/history?days=2", headers=ADMIN).get_json()["days"]
    expect(readout).to_contain_text(f"Visits: {api[1]['visits']:,}")
    page.keyboard.press("ArrowLeft")
    expect(readout).to_contain_text(f"Pageviews: {api[0]['pageviews']:,}")


@pytest.mark.parametrize("screen", ["dashboard", "dashboard/sites/portal"])
def test_screen_works_under_its_csp_with_no_console_error(seeded, page, screen):
    """The strict CSP header is on the screen, and nothing on it is refused (no console error)."""
    sign_in(page, seeded)
    response = page.goto(f"{seeded.url}{screen}")
    assert response.headers["content-security-policy"] == CSP
    page.wait_for_load_state("networkidle")
    assert not page.problems, page.problems


def test_online_now_refreshes_itself(seeded, page):
    """A visitor arriving while the screen is open shows in "online now" within a refresh (~15 s)."""
    page.clock.install()
    sign_in(page, seeded, "en")
    page.goto(f"{seeded.url}dashboard/sites/portal")
    before = number(page.text_content("[data-online-value]"))
    seeded.client.post("/api/v1/hit", data='{"site": "portal", "url": "http://localhost/"}',
                       content_type="text/plain", headers={"User-Agent": DESKTOP_CHROME})
    page.clock.run_for(16_000)
    expect(page.locator("[data-online-value]")).to_have_text(f"{before + 1:,}")



@pytest.mark.parametrize("lang", ["vi", "en"])
def test_screens_have_no_serious_accessibility_violation_and_are_photographed(seeded, axe_context, lang):
    """axe finds nothing serious or critical on the operator's screen and a site's screen; both are
    photographed into tests/artifacts/ (look at them)."""
    page = axe_context.new_page()
    sign_in(page, seeded, lang)
    ARTIFACTS.mkdir(exist_ok=True)
    for name, path in (("sites", "dashboard"), ("site", "dashboard/sites/portal")):
        page.goto(f"{seeded.url}{path}")
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}-{lang}.png"), full_page=True)
        found = axe_violations(page, f"dashboard-{name}-{lang}")
        assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, found
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{seeded.url}dashboard/sites/portal")
    page.screenshot(path=str(ARTIFACTS / f"dashboard-site-{lang}-phone.png"), full_page=True)
    found = axe_violations(page, f"dashboard-site-{lang}-phone")
    assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, found
