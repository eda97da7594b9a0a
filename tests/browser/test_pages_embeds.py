"""The page embeds in Chromium: "Lượt xem" under an article, "Tin đọc nhiều" beside it, the
block's rows, and the beacon's titles, against the real service on another origin."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from ..helpers import hit
from .conftest import ARTIFACTS, beacon_tag, closed_port, settle, wait_for

pytestmark = pytest.mark.browser

INTERVAL_SECONDS = 5  # the shortest interval the widget allows
XSS_TITLE = "<img src=x onerror=alert(1)>"
LONG_TITLE = ("Đẩy mạnh chuyển đổi số trong cải cách hành chính, nâng cao chất lượng phục vụ người dân "
              "và doanh nghiệp trên địa bàn tỉnh")
# (path, title or None, views): what readers of the test portal read today
ARTICLES = [
    ("/tin-tuc/khai-mac-ky-hop-hdnd", "Khai mạc kỳ họp thứ nhất Hội đồng nhân dân tỉnh khóa mới", 1234),
    ("/tin-tuc/chuyen-doi-so", LONG_TITLE, 57),
    ("/tin-tuc/lua-dong-xuan", "Mùa vụ lúa Đông Xuân: chủ động nguồn nước tưới", 9),
    ("/van-ban/quyet-dinh-15", None, 4),
]
ARTICLE = ARTICLES[0][0]

# A provincial portal's article page: its own fonts, colours and boxes around the embeds.
PORTAL_CSS = """<style>
  body { margin: 0; background: #eef2f6; color: #1c2733; font: 15px/1.55 Arial, sans-serif; }
  a { color: #0d4c92; }
  .top { background: #0a3d78; color: #fff; padding: 14px 20px; font-weight: 800; text-transform: uppercase; }
  .layout { display: grid; grid-template-columns: minmax(0, 1fr) 280px; gap: 24px; max-width: 1000px;
            margin: 0 auto; padding: 20px 16px; }
  article { background: #fff; border: 1px solid #d3dbe4; padding: 18px 22px; }
  article h1 { font-size: 24px; line-height: 1.3; margin: 4px 0 6px; color: #0a3d78; }
  .crumbs, .meta { color: #5b6878; font-size: 13px; margin: 0; }
  .article-footer { display: flex; justify-content: space-between; gap: 12px; margin-top: 18px;
                    padding-top: 10px; border-top: 1px solid #d3dbe4; color: #5b6878; font-size: 14px; }
  .box { background: #fff; border: 1px solid #d3dbe4; }
  .box h2 { margin: 0; padding: 9px 12px; font-size: 14px; text-transform: uppercase; background: #0d4c92; color: #fff; }
  .box ol { padding: 4px 12px; }
  .news li { margin: 0 0 8px; } .news .meta span { margin-left: 8px; }
</style>"""

WORDS = {
    "vi": {"portal": "Cổng thông tin điện tử tỉnh Mẫu", "crumbs": "Trang chủ › Tin tức - Sự kiện",
           "share": "Chia sẻ · In bài", "most_read": "Tin đọc nhiều", "body": "Sáng nay, Hội đồng nhân dân tỉnh "
           "khai mạc kỳ họp thứ nhất, xem xét các báo cáo kinh tế - xã hội của địa phương."},
    "en": {"portal": "Mau Province e-portal", "crumbs": "Home › News", "share": "Share · Print",
           "most_read": "Most read", "body": "This morning the provincial People's Council opened its first "
           "session, reviewing the province's social and economic reports."},
}


def seed(service, articles=ARTICLES) -> None:
    """Real hits through the API, with the pages' titles: ``views`` counted pageviews each."""
    reader = 0
    for path, title, views in articles:
        for n in range(views):
            if n % 50 == 0:  # a reader reads at most 50 pages a minute (the per-visitor limit is 60)
                reader += 1
            extra = {} if title is None else {"title": title}
            response = hit(service.client, site="portal", url=f"http://localhost{path}",
                           ip=f"198.51.{reader // 250}.{reader % 250 + 1}", **extra)
            assert response.status_code == 204 and "X-Not-Counted" not in response.headers, path


def api(service, path: str) -> dict:
    response = service.client.get(path)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def grouped(n: int, lang: str) -> str:
    return f"{n:,}".replace(",", "." if lang == "vi" else ",")


def script(service, **data) -> str:
    attrs = "".join(f' data-{k.replace("_", "-")}="{v}"' for k, v in data.items())
    return f'<script defer src="{service.url}widget.js"{attrs}></script>'


def article_page(portal, service, lang: str, path: str = ARTICLE, top: str = 'data-period="today" data-limit="4"',
                 head: str = "") -> str:
    """The article at ``path`` with "Lượt xem" in its footer and "Tin đọc nhiều" in the sidebar."""
    w = WORDS[lang]
    body = f"""<header class="top">{w['portal']}</header>
<div class="layout"><main><article id="article">
  <p class="crumbs">{w['crumbs']}</p><h1>{ARTICLES[0][1]}</h1><p class="meta">28/11/2026 08:15</p>
  <p>{w['body']}</p>
  <footer class="article-footer"><span data-visitor-views></span><span>{w['share']}</span></footer>
</article></main>
<aside id="sidebar"><section class="box" aria-labelledby="most-read"><h2 id="most-read">{w['most_read']}</h2>
  <ol data-visitor-top {top}></ol></section></aside></div>"""
    html = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{ARTICLES[0][1]}</title>
{PORTAL_CSS}{head}{script(service, site="portal", lang=lang)}</head><body>{body}</body></html>"""
    return portal.add(path, html)


def top_items(page) -> list[tuple[str, str, str | None]]:
    """(link text, views text, href) of each item the most-read list shows."""
    return page.locator("[data-visitor-top] > li:visible").evaluate_all(
        "lis => lis.map(li => [li.querySelector('a').textContent, li.querySelector('.va-v').textContent,"
        " li.querySelector('a').getAttribute('href')])")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_views_and_most_read_show_the_api_numbers(service, portal, page, lang):
    """Under the article, its all-time views; beside it, today's most read with titles as links on
    the portal's origin: exactly the API's answers, grouped for the language. Screenshots:
    tests/artifacts/pages-footer-<lang>.png and pages-most-read-<lang>.png."""
    seed(service)
    url = article_page(portal, service, lang)
    page.goto(url)
    views = page.locator("[data-visitor-views]")
    top = page.locator("[data-visitor-top]")
    expect(views).to_have_attribute("data-va-state", "ok")
    expect(top).to_have_attribute("data-va-state", "ok")

    answer = api(service, f"/api/v1/sites/portal/pages?path={ARTICLE}")["pages"][0]
    assert answer == {"path": ARTICLE, "views": {"today": 1234, "total": 1234}}
    label = "Lượt xem" if lang == "vi" else "Views"
    expect(views).to_have_text(f"{label}: {grouped(answer['views']['total'], lang)}")
    assert views.locator(".vv").inner_text() == ("Lượt xem: 1.234" if lang == "vi" else "Views: 1,234")

    most_read = api(service, "/api/v1/sites/portal/top?period=today&limit=4")["pages"]
    word = "lượt xem" if lang == "vi" else "views"
    assert top_items(page) == [[p["title"] or p["path"], f"{grouped(p['views'], lang)} {word}",
                                portal.url.rstrip("/") + p["link"]] for p in most_read]
    assert [p["views"] for p in most_read] == [1234, 57, 9, 4]
    assert top_items(page)[3][0] == "/van-ban/quyet-dinh-15"  # no title: the path
    assert top.get_attribute("role") == "list" and top.locator("li").count() == 4

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#article").screenshot(path=str(ARTIFACTS / f"pages-footer-{lang}.png"))
    page.locator("#sidebar").screenshot(path=str(ARTIFACTS / f"pages-most-read-{lang}.png"))
    assert not page.problems


def test_views_and_most_read_have_no_serious_accessibility_violation(service, portal, page):
    """axe finds nothing serious on an article page with its views and the most-read list; the
    list stays a list of links named by their titles."""
    from .test_accessibility import AXE, BLOCKING, axe_violations

    assert AXE.is_file(), f"{AXE} missing: run `make test`"
    seed(service, ARTICLES[1:])
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(article_page(portal, service, "en"))
    expect(page.locator("[data-visitor-top]")).to_have_attribute("data-va-state", "ok")
    expect(page.locator("[data-visitor-views]")).to_have_attribute("data-va-state", "ok")
    found = axe_violations(page, "pages")
    assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, found
    assert page.get_by_role("list").get_by_role("link").all_inner_texts() == [LONG_TITLE, ARTICLES[2][1], ARTICLES[3][0]]
    assert page.locator("[data-visitor-top] .va-v").first.get_attribute("lang") == "en-US"


def test_a_title_is_shown_as_text_never_as_html(service, portal, page):
    """A title that is an HTML tag with a script shows as those characters: no element, no dialog."""
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    seed(service, [("/tin-tuc/xss", XSS_TITLE, 3), ("/tin-tuc/b", "Bài <b>đậm</b> & \"trích\"", 2)])
    page.goto(article_page(portal, service, "vi", top='data-period="all" data-limit="5"'))
    top = page.locator("[data-visitor-top]")
    expect(top).to_have_attribute("data-va-state", "ok")

    expect(top.locator("li:visible a")).to_have_text([XSS_TITLE, "Bài <b>đậm</b> & \"trích\""])
    expect(top.get_by_text(XSS_TITLE)).to_be_visible()
    assert top.locator("img, b").count() == 0
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert dialogs == [] and not page.problems


def test_many_views_on_one_page_are_one_request(service, portal, page):
    """An article list: a dozen spans (one path twice, one the page itself) fill from ONE /pages
    request; 130 spans take two, neither over 100 paths."""
    seed(service, ARTICLES[1:])
    requests = []
    page.on("request", lambda r: "/pages?" in r.url and requests.append(r.url))
    paths = [f"/tin-tuc/bai-{n}" for n in range(9)] + [ARTICLES[1][0], ARTICLES[2][0], ARTICLES[1][0]]
    items = "".join(f'<li><a href="{p}">{p}</a> <span data-visitor-views data-path="{p}"></span></li>' for p in paths)
    url = portal.add_page("/tin-tuc/", head=script(service, site="portal"),
                          body=f'<ul class="news">{items}</ul><p id="self"><span data-visitor-views></span></p>')
    page.goto(url)
    spans = page.locator("[data-visitor-views] .vv")
    expect(page.locator("[data-visitor-views][data-va-state=ok]")).to_have_count(len(paths) + 1)
    assert len(requests) == 1
    asked = parse_qs(urlsplit(requests[0]).query)["path"]
    assert sorted(asked) == sorted({*paths, "/tin-tuc/"})
    views = {p: 0 for p in paths} | {path: n for path, _, n in ARTICLES[1:]}
    assert spans.all_inner_texts() == [f"Lượt xem: {views[p]}" for p in paths] + ["Lượt xem: 0"]

    requests.clear()
    many = [f"/tin-tuc/bai-{n}" for n in range(128)] + [ARTICLES[1][0], ARTICLES[2][0]]
    items = "".join(f'<span data-visitor-views data-path="{p}"></span>' for p in many)
    page.goto(portal.add_page("/nhieu", head=script(service, site="portal"), body=items))
    expect(page.locator("[data-visitor-views][data-va-state=ok]")).to_have_count(len(many))
    assert len(requests) == 2
    batches = [parse_qs(urlsplit(r).query)["path"] for r in requests]
    assert all(len(b) <= 100 for b in batches) and sorted(sum(batches, [])) == sorted(many)
    shown = page.locator("[data-visitor-views] .vv").all_inner_texts()
    assert shown[-2:] == ["Lượt xem: 57", "Lượt xem: 9"] and set(shown[:-2]) == {"Lượt xem: 0"}
    assert not page.problems


@pytest.mark.parametrize(("lang", "rows", "labels"), [
    ("vi", "online,today,yesterday,week,month,total",
     ["Đang online", "Hôm nay", "Hôm qua", "Trong tuần", "Tháng này", "Tất cả"]),
    ("en", "online,today,yesterday,week,month,total",
     ["Online now", "Today", "Yesterday", "This week", "This month", "All time"]),
    ("vi", " total, nonsense ,yesterday,total", ["Tất cả", "Hôm qua"]),  # unknown names left out
    ("en", "nonsense", ["Online now", "Today", "This week", "All time"]),  # nothing known: the default
])
def test_block_rows_follow_data_rows(service, portal, page, lang, rows, labels):
    """data-rows picks the block's rows, in its order; each shows the counters answer."""
    seed(service, ARTICLES[1:2])
    page.goto(portal.add_page(f"/rows-{lang}-{len(labels)}", head=script(service),
                              body=f'<aside id="sidebar" style="width:280px"><div data-visitor-stats data-site="portal" '
                                   f'data-lang="{lang}" data-rows="{rows}"></div></aside>'))
    block = page.locator("[data-visitor-stats]")
    expect(block).to_have_attribute("data-va-state", "ok")
    assert block.locator(".va-label").all_inner_texts() == labels

    numbers = api(service, "/api/v1/sites/portal/counters")
    names = {"Đang online": "online", "Online now": "online", "Hôm nay": "today", "Today": "today",
             "Hôm qua": "yesterday", "Yesterday": "yesterday", "Trong tuần": "week", "This week": "week",
             "Tháng này": "month", "This month": "month", "Tất cả": "total", "All time": "total"}
    want = [numbers["online"] if names[label] == "online" else numbers[names[label]]["visits"] for label in labels]
    assert block.locator(".va-num").all_inner_texts() == [grouped(n, lang) for n in want]
    if len(labels) == 6:
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#sidebar").screenshot(path=str(ARTIFACTS / f"widget-rows-{lang}.png"))
    assert not page.problems


def test_embeds_reserve_their_space_before_the_answers(service, portal, page):
    """The views and the list have their final size while their requests are held: no layout shift
    (Chromium's own layout-shift entries add up to 0)."""
    seed(service)
    held = []
    page.route("**/api/v1/sites/portal/top?*", lambda route: held.append(route))
    page.route("**/api/v1/sites/portal/pages?*", lambda route: held.append(route))
    page.add_init_script("""window.shifts = 0; new PerformanceObserver(list => {
        for (const e of list.getEntries()) window.shifts += e.value }).observe({type: 'layout-shift', buffered: true})""")
    page.goto(article_page(portal, service, "vi"))
    wait_for(lambda: len(held) == 2, message="both requests held", page=page)
    views, top = page.locator("[data-visitor-views]"), page.locator("[data-visitor-top]")
    assert views.locator(".vv").inner_text() == "Lượt xem: –" and top.get_attribute("aria-busy") == "true"
    before = [views.bounding_box(), top.bounding_box(), page.locator("#sidebar").bounding_box()]
    assert before[1]["height"] > 150

    for route in held:
        route.continue_()
    expect(top).to_have_attribute("data-va-state", "ok")
    expect(views).to_have_attribute("data-va-state", "ok")
    after = [views.bounding_box(), top.bounding_box(), page.locator("#sidebar").bounding_box()]
    assert after == before
    assert top.get_attribute("aria-busy") is None
    assert page.evaluate("window.shifts") == 0


def test_one_poll_per_answer_paused_while_hidden(service, portal, page):
    """The block, three views and the list poll their three URLs once an interval each, one
    shared timer per URL; nothing while the tab is hidden; all three at once when shown again.
    The list is updated in place: a focused link keeps the focus when the ranking changes."""
    from .test_beacon import SET_VISIBILITY

    seed(service, ARTICLES[2:])
    asked = []
    page.on("request", lambda r: "/api/v1/sites/" in r.url and asked.append(urlsplit(r.url).path.rsplit("/", 1)[1]))
    spans = "".join(f'<span data-visitor-views data-path="/tin-tuc/{n}"></span>' for n in range(3))
    embeds = (f'<div data-visitor-stats></div>{spans}<ol data-visitor-top></ol>'
              f'<div data-visitor-stats data-lang="en" data-rows="yesterday,month"></div>')
    page.goto(portal.add_page("/poll", head=script(service, site="portal", interval=INTERVAL_SECONDS), body=embeds))
    expect(page.locator("[data-va-state=ok]")).to_have_count(6)
    started = time.monotonic()
    assert sorted(asked) == ["counters", "pages", "top"]
    first = page.locator("[data-visitor-top] a").first
    expect(first).to_have_text(ARTICLES[2][1])
    first.focus()
    seed(service, [(ARTICLES[3][0], None, 6)])  # 10 views: now the most read

    page.wait_for_timeout((INTERVAL_SECONDS + 1.5) * 1000 - (time.monotonic() - started) * 1000)
    assert sorted(asked) == ["counters", "counters", "pages", "pages", "top", "top"]
    expect(first).to_have_text(ARTICLES[3][0])
    assert first.evaluate("a => a === document.activeElement")

    page.evaluate(SET_VISIBILITY, "hidden")
    asked.clear()
    page.wait_for_timeout(INTERVAL_SECONDS * 1.3 * 1000)
    assert asked == []
    page.evaluate(SET_VISIBILITY, "visible")
    wait_for(lambda: sorted(asked) == ["counters", "pages", "top"], 3, message="all three at once", page=page)
    assert not page.problems


def test_a_new_site_shows_an_empty_list_and_zero_views(service, portal, page):
    """No page read yet: "Chưa có số liệu" in the list (one item), 0 views."""
    page.goto(article_page(portal, service, "vi", path="/moi"))
    top = page.locator("[data-visitor-top]")
    expect(top).to_have_attribute("data-va-state", "ok")
    expect(top.locator("li:visible")).to_have_text(["Chưa có số liệu"])
    assert top.locator("li:visible a").get_attribute("href") is None
    expect(page.locator("[data-visitor-views]")).to_have_text("Lượt xem: 0")


def test_no_console_errors_when_the_service_is_unreachable(service, portal, page):
    """The block, the views and the list pointed at a closed port: error states, placeholders,
    and nothing on the console but Chromium's own refused-connection lines."""
    dead = f"http://127.0.0.1:{closed_port()}/"
    embeds = ('<div data-visitor-stats data-rows="today,yesterday,month"></div>'
              '<span data-visitor-views></span><span data-visitor-views data-path="/a"></span>'
              '<ol data-visitor-top data-limit="3"></ol>')
    page.goto(portal.add_page("/down", head=beacon_tag(service, api=dead) + script(service, site="portal", api=dead),
                              body=embeds))
    for selector in ("[data-visitor-stats]", "[data-visitor-views] >> nth=0", "[data-visitor-views] >> nth=1",
                     "[data-visitor-top]"):
        expect(page.locator(selector)).to_have_attribute("data-va-state", "error")
    assert page.locator("[data-visitor-views] .vv").all_inner_texts() == ["Lượt xem: –"] * 2
    expect(page.locator("[data-visitor-top] li")).to_have_text(["– –"] * 3)
    expect(page.locator("[data-visitor-stats] .va-num")).to_have_text(["–"] * 3)

    refused = f"console: Failed to load resource: net::ERR_CONNECTION_REFUSED ({dead}api/v1/"
    assert page.problems, "Chromium reports refused connections: the API was really unreachable"
    assert [p for p in page.problems if not p.startswith(refused)] == []


def test_the_beacon_sends_the_title_with_pageviews_only(service, portal, page):
    """A pageview carries document.title, a ping none; the most-read list then shows that title."""
    title = "Thông báo tuyển dụng viên chức năm 2026"
    url = portal.add("/thong-bao/tuyen-dung", f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<title>{title}</title>{beacon_tag(service, ping_seconds=1)}</head><body><p>Nội dung</p></body></html>""")
    page.goto(url)
    wait_for(lambda: [h for h in page.hits_sent if h.get("type") == "ping"], 5, message="a ping", page=page)
    settle(page, service)
    pageviews = [h for h in page.hits_sent if h.get("type") == "pageview"]
    pings = [h for h in page.hits_sent if h.get("type") == "ping" and h.get("url") == url]
    assert [h["title"] for h in pageviews] == [title]
    assert pings and all("title" not in h for h in pings)
    top = api(service, "/api/v1/sites/portal/top?period=today&limit=5")["pages"]
    assert top == [{"path": "/thong-bao/tuyen-dung", "title": title, "views": 1, "link": "/thong-bao/tuyen-dung"}]
