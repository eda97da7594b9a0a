"""beacon.js in Chromium, on a portal origin other than the service's: what it counts."""

from __future__ import annotations

import time

import pytest

from .conftest import DESKTOP_CHROME, ONLINE_WINDOW_SECONDS, beacon_tag, is_marker, settle, wait_for

pytestmark = pytest.mark.browser

# Headless Chromium keeps every page "visible": minimizing its window (CDP
# Browser.setWindowBounds) or opening a tab in front (Target.createTarget) changes nothing.
# So tests hide a page the way the scripts observe it: the two properties they read, and
# the real event.
SET_VISIBILITY = """state => {
    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => state});
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => state === 'hidden'});
    document.dispatchEvent(new Event('visibilitychange'));
}"""

# Stands in for a speculation-rules prerender: document.prerendering is true until
# window.activate() ends it and fires prerenderingchange, as Chrome does on activation.
PRERENDER = """
    let prerendering = true;
    Object.defineProperty(document, 'prerendering', {configurable: true, get: () => prerendering});
    window.activate = () => {
        prerendering = false;
        document.dispatchEvent(new Event('prerenderingchange'));
    };
"""


def pageviews(service, url_part: str = "") -> list[dict]:
    return service.log.of("pageview", url_part)


def test_one_load_is_one_pageview_and_one_visit(service, portal, page):
    """A page load sends one pageview, and the counters show one pageview, visit and visitor."""
    page.goto(portal.add_page("/tin-tuc/bai-1", head=beacon_tag(service)))
    settle(page, service)

    assert [(h["url"], h["not_counted"]) for h in pageviews(service)] == [(page.url, None)]
    numbers = service.counters()
    assert numbers["online"] == 1
    for period in ("today", "week", "total"):
        assert numbers[period] == {"visits": 1, "pageviews": 1, "visitors": 1}
    assert not page.problems


def test_reload_is_one_more_pageview_in_the_same_visit(service, portal, page):
    """Reloading counts a pageview but not a new visit."""
    page.goto(portal.add_page("/tin-tuc/bai-2", head=beacon_tag(service)))
    page.reload()
    settle(page, service)

    assert len(pageviews(service)) == 2
    assert service.counters()["today"] == {"visits": 1, "pageviews": 2, "visitors": 1}


SPA_STEPS = [  # (what the router does, pageviews counted so far)
    ("history.pushState({}, '', '/spa/tin-tuc/1')", 2),
    ("history.replaceState({}, '', '/spa/tin-tuc/1')", 2),           # the same URL again
    ("history.pushState({}, '', '/spa/tin-tuc/1#binh-luan')", 2),   # an in-page anchor
    ("history.pushState({}, '', '/spa/tin-tuc/2?trang=2')", 3),     # a new query
    ("history.back()", 4),                                           # popstate to a new URL
    ("visitorAnalytics.pageview()", 5),                              # by hand: always counts
]


def test_single_page_app_steps(service, portal, page):
    """History changes count a pageview for a new URL only; the visit stays one."""
    page.goto(portal.add_page("/spa/", head=beacon_tag(service)))
    for step, expected in SPA_STEPS:
        page.evaluate(step)
        settle(page, service)
        assert len(pageviews(service)) == expected, step
    assert service.counters()["today"] == {"visits": 1, "pageviews": 5, "visitors": 1}


def test_two_spa_navigations_are_two_more_pageviews(service, portal, page):
    """Two router navigations after a load: three pageviews, each for its own URL."""
    page.goto(portal.add_page("/app/", head=beacon_tag(service),
                              body='<a id="next" href="/app/van-ban">Văn bản</a>'))
    page.evaluate("""document.getElementById('next').addEventListener('click', e => {
        e.preventDefault(); history.pushState({}, '', e.target.href); })""")
    page.click("#next")
    page.evaluate("history.pushState({}, '', '/app/lien-he')")
    settle(page, service)

    assert [h["url"].split("/", 3)[3] for h in pageviews(service)] == ["app/", "app/van-ban", "app/lien-he"]
    assert service.counters()["today"] == {"visits": 1, "pageviews": 3, "visitors": 1}


def test_prerendered_page_never_shown_counts_nothing(service, portal, page):
    """While document.prerendering is true the beacon sends nothing, not even pings."""
    page.add_init_script(PRERENDER)
    page.goto(portal.add_page("/prerender", head=beacon_tag(service, ping_seconds=1)))
    page.wait_for_function("window.visitorAnalytics")
    page.evaluate("visitorAnalytics.ping()")
    settle(page, service)

    assert [h for h in page.hits_sent if not is_marker(h)] == []
    assert service.counters()["total"] == {"visits": 0, "pageviews": 0, "visitors": 0}


def test_prerendered_page_counts_once_shown(service, portal, page):
    """A prerendered page counts one pageview when it is activated, not before."""
    page.add_init_script(PRERENDER)
    page.goto(portal.add_page("/prerender-shown", head=beacon_tag(service)))
    page.wait_for_function("window.visitorAnalytics")
    page.evaluate("activate()")
    settle(page, service)

    assert [h["url"] for h in pageviews(service)] == [page.url]
    assert service.counters()["today"]["pageviews"] == 1


def test_frames_count_only_when_allowed_and_visible(service, portal, page):
    """A framed page counts only with data-allow-frame, and never in a hidden frame."""
    frames = {
        "plain": ("", 'width="300" height="120"'),
        "hidden": ("allow-frame", 'style="display:none"'),
        "zero": ("allow-frame", 'width="0" height="0" style="border:0"'),
        "allowed": ("allow-frame", 'width="300" height="120"'),
    }
    body = ""
    for name, (option, iframe_attrs) in frames.items():
        data = {"allow_frame": ""} if option else {}
        portal.add_page(f"/khung/{name}", head=beacon_tag(service, **data))
        body += f'<iframe src="/khung/{name}" title="{name}" {iframe_attrs}></iframe>'
    page.goto(portal.add_page("/trang-co-khung", body=body))
    for frame in page.frames[1:]:
        frame.wait_for_function("window.visitorAnalytics")
    settle(page, service)

    assert [h["url"].rsplit("/", 1)[1] for h in pageviews(service)] == ["allowed"]


def test_back_forward_cache_restore_counts_one_pageview(service, portal, page):
    """Back to a page restored from the bfcache counts it once more, as a reload would."""
    first = portal.add_page("/bai-a", head=beacon_tag(service), body='<a id="b" href="/bai-b">B</a>')
    portal.add_page("/bai-b", head=beacon_tag(service))
    page.goto(first)
    page.evaluate("addEventListener('pageshow', e => { window.restored = e.persisted; })")
    page.click("#b")
    page.wait_for_url("**/bai-b")
    page.go_back(wait_until="commit")  # a bfcache restore fires no "load"
    page.wait_for_function("window.restored === true")  # really restored, not reloaded
    settle(page, service)

    assert [h["url"].rsplit("/", 1)[1] for h in pageviews(service)] == ["bai-a", "bai-b", "bai-a"]
    assert service.counters()["today"] == {"visits": 1, "pageviews": 3, "visitors": 1}


def test_visible_page_stays_online_and_hidden_page_drops_out(service, portal, page, browser):
    """Past the online window, pings keep a visible reader online; a hidden one drops out."""
    other_reader = browser.new_context(user_agent=DESKTOP_CHROME.replace("156.0", "155.0"))
    hidden = other_reader.new_page()
    try:
        page.goto(portal.add_page("/doc-lau", head=beacon_tag(service, ping_seconds=1)))
        hidden.goto(portal.add_page("/an-di", head=beacon_tag(service, ping_seconds=1)))
        wait_for(lambda: service.counters()["online"] == 2, message="both readers online")
        hidden.evaluate(SET_VISIBILITY, "hidden")
        hidden_at, pings_before = time.monotonic(), len(service.log.of("ping", "/an-di"))

        wait_for(lambda: service.counters()["online"] == 1, ONLINE_WINDOW_SECONDS + 4,
                 message="the hidden reader drops out")
        # Watch the visible reader over a whole online window after the hidden one left.
        while time.monotonic() - hidden_at < ONLINE_WINDOW_SECONDS + 1.5:
            assert service.counters()["online"] == 1
            time.sleep(0.25)
        assert len(service.log.of("ping", "/doc-lau")) >= 2
        assert len(service.log.of("ping", "/an-di")) == pings_before

        hidden.evaluate(SET_VISIBILITY, "visible")
        wait_for(lambda: service.counters()["online"] == 2, 5, message="back online when shown")
        assert service.counters()["today"]["pageviews"] == 2  # pings counted nothing else
    finally:
        other_reader.close()


def test_beacon_never_throws_into_the_page(service, portal, page):
    """A hostile page (no sendBeacon, broken history) still loads and runs its own code."""
    hostile = """<script>
        navigator.sendBeacon = () => { throw new Error('blocked'); };
        window.fetch = () => { throw new Error('blocked'); };
    </script>"""
    page.goto(portal.add_page("/hostile", head=hostile + beacon_tag(service),
                              body="<script>window.ownCodeRan = true;</script>"))
    page.wait_for_function("window.visitorAnalytics && window.ownCodeRan")
    page.evaluate("history.pushState({}, '', '/hostile/2'); visitorAnalytics.pageview('/x')")
    assert not page.problems
