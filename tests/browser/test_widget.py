"""widget.js in Chromium, on a portal origin other than the service's: what readers see."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from ..helpers import ADMIN, hit
from .conftest import ARTIFACTS, beacon_tag, closed_port, wait_for

pytestmark = pytest.mark.browser

INTERVAL_SECONDS = 5  # the shortest interval the widget allows
ROWS = ("online", "today", "week", "total")

# A portal sidebar with the careless global CSS real portals carry; none of it may
# reach into the block, and none of the block's styles may reach out.
SIDEBAR = """
<style>
  body { font: 13px/2.4 "Times New Roman", serif; color: #c00; background: #f3f1ea;
         letter-spacing: 1px; text-align: center; }
  * { box-sizing: content-box; }
  h2 { font-size: 32px; margin: 30px; text-decoration: underline; color: green; }
  ul { list-style: square; padding: 0 0 0 60px; }
  li { padding: 12px; border: 2px dotted blue; }
  b, span { color: magenta !important; font-style: italic; }
  svg { width: 90px !important; }
  .va-row { display: inline; color: purple; }
  aside { width: 280px; margin: 20px; padding: 12px; background: #fff; text-align: left; }
</style>
"""


def widget_page(portal, service, path, widgets, head=""):
    """A portal page whose sidebar holds the given widget divs; return its URL."""
    body = f'<aside id="sidebar">{widgets}</aside><p class="va-row">Trang chủ</p>'
    return portal.add_page(path, head=SIDEBAR + head + f'<script defer src="{service.url}widget.js"></script>',
                           body=body)


def widget(site="portal", **data) -> str:
    attrs = "".join(f' data-{k.replace("_", "-")}="{v}"' for k, v in data.items())
    return f'<div data-visitor-stats data-site="{site}"{attrs}></div>'


def shown(page, nth=0) -> list[str]:
    """The four numbers one widget shows, top to bottom."""
    return page.locator("[data-visitor-stats]").nth(nth).locator(".va-num").all_inner_texts()


def expected(numbers, metric="visits", lang="vi") -> list[str]:
    """The four numbers as the widget must format them from a counters answer."""
    sep = "." if lang == "vi" else ","
    raw = [numbers["online"]] + [numbers[period][metric] for period in ROWS[1:]]
    return [f"{n:,}".replace(",", sep) for n in raw]


def make_traffic(service, readers=7, pages_each=2, first_reader=1) -> None:
    """Hits from new readers (one address each), straight through the app."""
    for reader in range(first_reader, first_reader + readers):
        for n in range(pages_each):
            response = hit(service.client, site="portal", url=f"http://localhost/tin-tuc/{n}",
                           ip=f"203.0.113.{reader}")
            assert response.status_code == 204 and "X-Not-Counted" not in response.headers


def counters_with(service, visits_today: int) -> dict:
    """The counters once they show ``visits_today`` (the app caches them for a second)."""
    return wait_for(lambda: (c := service.counters())["today"]["visits"] == visits_today and c,
                    3, message=f"{visits_today} visits today")


@pytest.fixture
def service_config(service_config):
    """Counters cached for a second, as production would for a few; the usual online window,
    so that "online" does not change while a test looks at it."""
    return {**service_config, "COUNTERS_CACHE_SECONDS": 1, "ONLINE_WINDOW_SECONDS": 300}


@pytest.fixture
def traffic(service):
    """An imported baseline plus a little live traffic, so numbers need grouping."""
    response = service.client.put("/api/v1/sites/portal/baseline", headers=ADMIN,
                                  json={"visits": 3844451, "pageviews": 9120877, "visitors": 1203311})
    assert response.status_code in (200, 201), response.get_json()
    make_traffic(service)
    return service


@pytest.mark.parametrize(("lang", "title", "labels"), [
    ("vi", "Thống kê truy cập", ["Đang online", "Hôm nay", "Trong tuần", "Tất cả"]),
    ("en", "Visit statistics", ["Online now", "Today", "This week", "All time"]),
])
def test_widget_shows_the_api_numbers(traffic, portal, page, lang, title, labels):
    """The block shows exactly the counters answer, formatted for its language; a screenshot
    of it is written to tests/artifacts/widget-<lang>.png."""
    numbers = traffic.counters()
    page.goto(widget_page(portal, traffic, f"/{lang}", widget(lang=lang)))
    block = page.locator("[data-visitor-stats]")
    expect(block).to_have_attribute("data-va-state", "ok")

    expect(block.locator("h2")).to_have_text(title)
    assert block.locator("li .va-label").all_inner_texts() == labels
    assert shown(page) == expected(numbers, lang=lang)
    assert shown(page)[3] == ("3.844.458" if lang == "vi" else "3,844,458")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#sidebar").screenshot(path=str(ARTIFACTS / f"widget-{lang}.png"))
    assert not page.problems


def test_widgets_of_one_site_share_one_poll(traffic, portal, page):
    """Two blocks (visits in vi, pageviews in en) fill from a single counters request."""
    requests = []
    page.on("request", lambda r: "/counters" in r.url and requests.append(r.url))
    page.goto(widget_page(portal, traffic, "/two", widget() + widget(lang="en", metric="pageviews")))
    expect(page.locator("[data-va-state=ok]")).to_have_count(2)

    numbers = traffic.counters()
    assert shown(page, 0) == expected(numbers)
    assert shown(page, 1) == expected(numbers, metric="pageviews", lang="en")
    assert len(requests) == 1


def test_widget_updates_after_new_hits_within_one_interval(traffic, portal, page):
    """New hits show up by the next poll."""
    page.goto(widget_page(portal, traffic, "/live", widget(interval=INTERVAL_SECONDS)))
    block = page.locator("[data-visitor-stats]")
    expect(block.locator(".va-today .va-num")).to_have_text("7")

    make_traffic(traffic, readers=1, pages_each=1, first_reader=100)
    numbers = counters_with(traffic, 8)
    expect(block.locator(".va-num")).to_have_text(expected(numbers), timeout=(INTERVAL_SECONDS + 3) * 1000)


def test_widget_reserves_its_space_before_the_first_answer(traffic, portal, page):
    """The block has its final size while the counters are still on their way."""
    held = []
    page.route("**/api/v1/sites/portal/counters", lambda route: held.append(route))
    page.goto(widget_page(portal, traffic, "/reserve", widget()))
    block = page.locator("[data-visitor-stats]")
    expect(block).to_have_attribute("data-va-state", "loading")
    wait_for(lambda: held, message="counters request held", page=page)
    before = block.bounding_box()
    assert before["height"] > 150
    assert block.locator(".va-num").all_inner_texts() == ["–"] * 4

    held[0].continue_()
    expect(block).to_have_attribute("data-va-state", "ok")
    assert block.bounding_box() == before


def test_page_styles_and_widget_styles_stay_apart(traffic, portal, page):
    """Host CSS does not restyle the block, nor its CSS the host; custom properties theme it."""
    page.goto(widget_page(portal, traffic, "/styles", widget()))
    expect(page.locator("[data-visitor-stats]")).to_have_attribute("data-va-state", "ok")
    style = page.locator("[data-visitor-stats] h2").evaluate(
        "h => { const s = getComputedStyle(h); return [s.fontSize, s.textDecorationLine, s.color] }")
    assert style == ["14px", "none", "rgb(255, 255, 255)"]
    row = page.locator("[data-visitor-stats] li").first.evaluate(
        "li => { const s = getComputedStyle(li); return [s.display, s.listStyleType, s.borderTopStyle] }")
    assert row == ["flex", "none", "none"]
    host_row = page.locator("p.va-row").evaluate("p => getComputedStyle(p).display")
    assert host_row == "inline"  # the page's own rule, untouched by the widget's .va-row

    page.add_style_tag(content="[data-visitor-stats] { --va-accent: rgb(163, 29, 29); }")
    title = page.locator("[data-visitor-stats] h2")
    expect(title).to_have_css("background-color", "rgb(163, 29, 29)")  # themed from outside


def test_widget_pauses_while_hidden_and_refreshes_when_shown(traffic, portal, page):
    """No polling while the tab is hidden; coming back refreshes at once."""
    from .test_beacon import SET_VISIBILITY

    requests = []
    page.on("request", lambda r: "/counters" in r.url and requests.append(time.monotonic()))
    page.goto(widget_page(portal, traffic, "/hidden", widget(interval=INTERVAL_SECONDS)))
    expect(page.locator("[data-visitor-stats]")).to_have_attribute("data-va-state", "ok")
    page.evaluate(SET_VISIBILITY, "hidden")
    hidden_at, polled = time.monotonic(), len(requests)

    make_traffic(traffic, readers=1, pages_each=1, first_reader=100)  # news to show later
    while time.monotonic() - hidden_at < INTERVAL_SECONDS * 1.5:  # a whole interval, and more
        page.wait_for_timeout(250)  # lets Playwright deliver request events meanwhile
        assert len(requests) == polled
    with page.expect_request("**/counters"):
        page.evaluate(SET_VISIBILITY, "visible")
    expect(page.locator("[data-visitor-stats] .va-num")).to_have_text(expected(counters_with(traffic, 8)))


def test_widget_keeps_its_numbers_while_the_service_is_down_and_recovers(traffic, portal, page):
    """A failed poll leaves the last numbers on screen; the next success replaces them."""
    page.goto(widget_page(portal, traffic, "/outage", widget(interval=INTERVAL_SECONDS)))
    block = page.locator("[data-visitor-stats]")
    before = expected(traffic.counters())
    expect(block.locator(".va-num")).to_have_text(before)

    traffic.stop()
    expect(block).to_have_attribute("data-va-state", "error", timeout=(INTERVAL_SECONDS + 3) * 1000)
    assert shown(page) == before
    make_traffic(traffic, readers=2, pages_each=1, first_reader=100)  # unseen by the widget

    traffic.start()  # the same port again
    after = expected(counters_with(traffic, 9))
    expect(block.locator(".va-num")).to_have_text(after, timeout=(INTERVAL_SECONDS * 2 + 3) * 1000)
    expect(block).to_have_attribute("data-va-state", "ok")


def test_no_console_errors_when_the_service_is_unreachable(service, portal, page):
    """Scripts loaded, API unreachable: the page logs no errors of ours and throws nothing.

    Chromium itself reports each refused connection on the console ("Failed to load
    resource: net::ERR_CONNECTION_REFUSED"); no script can silence that, so only those
    lines, for the unreachable address, are allowed.
    """
    dead = f"http://127.0.0.1:{closed_port()}/"
    head = beacon_tag(service, api=dead, ping_seconds=1)
    page.goto(widget_page(portal, service, "/down", widget(api=dead, interval=INTERVAL_SECONDS),
                          head=head))
    block = page.locator("[data-visitor-stats]")
    expect(block).to_have_attribute("data-va-state", "error")
    page.evaluate("history.pushState({}, '', '/down/2'); visitorAnalytics.pageview(); visitorAnalytics.ping()")
    expect(block.locator(".va-num")).to_have_text(["–"] * 4)

    refused = f"console: Failed to load resource: net::ERR_CONNECTION_REFUSED ({dead}api/v1/"
    assert page.problems, "Chromium reports refused connections: the API was really unreachable"
    assert [p for p in page.problems if not p.startswith(refused)] == []
