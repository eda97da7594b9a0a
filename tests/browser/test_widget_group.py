"""widget.js with data-group in Chromium, on a portal origin other than the service's: a group's block sums
visits over its member sites and counts a reader of two of them once; a group that does not exist shows
the block's empty state, quietly."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..helpers import ADMIN, hit
from .test_widget import ROWS, expected, shown, widget_page

pytestmark = pytest.mark.browser

GROUP = "tinh-tra-vinh"
MEMBERS = {"tv-so-gd": "sogd.travinh.gov.vn", "tv-tieu-can": "tieucan.travinh.gov.vn"}
READER = "203.0.113.60"
"""The one reader's address; the test client sends the same desktop Chrome User-Agent for each hit."""


@pytest.fixture
def service_config(service_config):
    """The usual online window, so that the reader stays online while the test looks."""
    return {**service_config, "ONLINE_WINDOW_SECONDS": 300}


@pytest.fixture
def group(service):
    """The group with its zone and label, and two member sites the same reader has read one page of each."""
    answer = service.client.put(f"/api/v1/groups/{GROUP}", headers=ADMIN,
                                json={"timezone": "Asia/Ho_Chi_Minh", "label": "Tỉnh Trà Vinh"})
    assert answer.status_code == 201, answer.get_json()
    for site, domain in MEMBERS.items():
        answer = service.client.put(f"/api/v1/sites/{site}", headers=ADMIN,
                                    json={"domains": [domain], "timezone": "Asia/Ho_Chi_Minh", "group": GROUP})
        assert answer.status_code == 201, answer.get_json()
        response = hit(service.client, site=site, url=f"https://{domain}/tin-tuc/le-hoi-ok-om-bok", ip=READER)
        assert response.status_code == 204 and "X-Not-Counted" not in response.headers
    return service


def group_block(name: str = GROUP, **data) -> str:
    attrs = "".join(f' data-{k}="{v}"' for k, v in data.items())
    return f'<div data-visitor-stats data-group="{name}"{attrs}></div>'


def test_group_block_sums_visits_and_counts_a_reader_of_two_members_once(group, portal, page):
    """One reader on both members: the group's block shows 2 visits and 1 visitor (1 online), exactly the
    group counters answer, while each member alone shows 1 visit."""
    numbers = group.client.get(f"/api/v1/groups/{GROUP}/counters").get_json()
    assert numbers["sites"] == 2
    assert [numbers["online"], numbers["today"]["visits"], numbers["today"]["visitors"]] == [1, 2, 1]
    assert [group.counters(site)["today"]["visits"] for site in MEMBERS] == [1, 1]

    page.goto(widget_page(portal, group, "/nhom", group_block() + group_block(metric="visitors", lang="en")))
    blocks = page.locator("[data-visitor-stats]")
    for n in range(2):
        expect(blocks.nth(n)).to_have_attribute("data-va-state", "ok")
    assert shown(page, 0) == expected(numbers) == ["1", "2", "2", "2"]
    assert shown(page, 1) == expected(numbers, metric="visitors", lang="en") == ["1", "1", "1", "1"]
    expect(blocks.nth(0).locator("h2")).to_have_text("Thống kê truy cập")
    assert not page.problems, page.problems


def test_a_group_that_does_not_exist_shows_the_empty_block_and_no_console_error(group, portal, page):
    """A block for an unknown group keeps its dashes ("–") and says it failed (data-va-state="error"),
    next to a working block, with no error of ours on the console and nothing thrown.

    The API answers 404 as the spec says; Chromium itself logs every 4xx fetch as "Failed to load
    resource", which no script can silence, so only that line, for that URL, is allowed.
    """
    missing = "khong-co-nhom-nay"
    responses = []
    page.on("response", lambda r: "/api/v1/groups/" in r.url and responses.append((r.url, r.status)))
    page.goto(widget_page(portal, group, "/khong-co", group_block(missing) + group_block()))
    blocks = page.locator("[data-visitor-stats]")
    expect(blocks.nth(0)).to_have_attribute("data-va-state", "error")
    expect(blocks.nth(1)).to_have_attribute("data-va-state", "ok")
    assert shown(page, 0) == ["–"] * len(ROWS)
    expect(blocks.nth(0).locator("h2")).to_have_text("Thống kê truy cập")
    assert (f"{group.url}api/v1/groups/{missing}/counters", 404) in responses
    browser_own = f"console: Failed to load resource: the server responded with a status of 404 (NOT FOUND) " \
                  f"({group.url}api/v1/groups/{missing}/counters)"
    assert [p for p in page.problems if p != browser_own] == []


def test_a_malformed_group_id_is_left_alone(group, portal, page):
    """A data-group that no group id can be ("Trà Vinh") is skipped without a request: no state, no error."""
    requests = []
    page.on("request", lambda r: "/api/v1/" in r.url and requests.append(r.url))
    page.goto(widget_page(portal, group, "/sai", group_block("Trà Vinh") + group_block()))
    expect(page.locator("[data-visitor-stats]").nth(1)).to_have_attribute("data-va-state", "ok")
    assert page.locator("[data-visitor-stats]").nth(0).get_attribute("data-va-state") is None
    assert requests == [f"{group.url}api/v1/groups/{GROUP}/counters"]
    assert not page.problems, page.problems
