"""The operator's screen at a thousand sites in Chromium: 50 rows a page with a total row for all sites and
one per group, paging both ways, search, sorting by keyboard, the whole list as CSV, axe finds nothing
serious in either language, a photograph; and a site token sees only its own three sites."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from service import utc_now
from service.dashboard.i18n import WORDS

from ..helpers import ADMIN, seed_history
from .conftest import ARTIFACTS, DESKTOP_CHROME
from .test_accessibility import BLOCKING, axe_violations
from .test_tokens_screen import sign_in

pytestmark = pytest.mark.browser

GROUPS = {"tinh-tra-vinh": ("tv", "travinh", 120), "tinh-ben-tre": ("bt", "bentre", 80)}
"""Group: (site id prefix, domain word, members); the other 800 sites belong to no group."""
SITES = [(f"{prefix}-{n:04d}", f"{prefix}-{n:04d}.{word}.gov.vn", group)
         for group, (prefix, word, count) in GROUPS.items() for n in range(count)] + \
        [(f"xa-{n:04d}", f"xa-{n:04d}.gov.vn", "") for n in range(800)]
"""The thousand sites: (id, domain, group)."""
SEEDED = {"tv-0007": 40, "bt-0003": 25, "bt-0042": 12, "xa-0500": 60}
"""Sites with traffic, and the days of history each gets (different totals, so sorting shows)."""
TOKEN_SITES = ("tv-0007", "tv-0008", "xa-0500")
PAGE_ROWS = 50


def number(text: str) -> int:
    """The integer a cell shows, in either language's grouping."""
    return int(re.sub(r"[^\d]", "", text))


@pytest.fixture
def thousand(service):
    """The service with exactly 1,000 sites registered in one bulk call, two groups, four with history."""
    assert service.client.delete("/api/v1/sites/portal?purge=true", headers=ADMIN).status_code in (200, 204)
    for group, label in LABELS:
        answer = service.client.put(f"/api/v1/groups/{group}", headers=ADMIN,
                                    json={"timezone": "Asia/Ho_Chi_Minh", "label": label})
        assert answer.status_code in (200, 201), answer.get_json()
    rows = [{"site": site, "domains": [domain], "timezone": "Asia/Ho_Chi_Minh", "group": group}
            for site, domain, group in SITES]
    answer = service.client.put("/api/v1/sites", headers=ADMIN, json={"sites": rows})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["created"] == 1000 and answer.get_json()["errors"] == []
    store, now = service.client.application.extensions["store"], utc_now()
    for site, days in SEEDED.items():
        seed_history(store, site, days, now)
    return service


def api_sites(service, headers=ADMIN, **query) -> list[dict]:
    """Every site the API lists for these credentials (following ``next``), with its numbers; ``week``
    added from the site's counters (a site with no visits at all has none this week either)."""
    found, cursor = [], None
    while True:
        args = {"limit": 500, **query, **({"cursor": cursor} if cursor else {})}
        answer = service.client.get("/api/v1/sites", headers=headers, query_string=args)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        found += body["sites"]
        if not (cursor := body["next"]):
            break
    for site in found:
        site["week"] = ({"visits": 0} if site["total"]["visits"] == 0
                        else service.counters(site["site"])["week"])
    return found


def shown_sites(page) -> list[str]:
    return [s.strip() for s in page.locator("table.sites >> nth=0").locator("tbody th").all_text_contents()]


def total_row(page) -> list[str]:
    return page.locator("table.sites >> nth=0").locator("tfoot tr.total-row").locator("th, td").all_text_contents()


LABELS = (("tinh-tra-vinh", "Tỉnh Trà Vinh"), ("tinh-ben-tre", "Tỉnh Bến Tre"))
"""The groups' labels, shown beside their ids in the "by group" table."""


def group_rows(page) -> dict[str, list[int]]:
    """The "by group" table: group -> [sites, online, today, week, total]."""
    rows = page.locator("section[aria-labelledby=groups-title] tbody tr")
    return {group_id(row.locator("th").text_content()): [number(t) for t in row.locator("td").all_text_contents()]
            for row in rows.all()}


def group_id(heading: str) -> str:
    """The group id of a "by group" row's heading: "Tỉnh Bến Tre (tinh-ben-tre)", or the bare id."""
    heading = " ".join(heading.split())
    labelled = re.fullmatch(r"(.+) \(([a-z0-9-]+)\)", heading)
    if labelled:
        assert labelled.group(1) == dict(LABELS)[labelled.group(2)], heading  # the label it was given
        return labelled.group(2)
    return heading


def expected_sums(sites: list[dict]) -> list[int]:
    """[online, today, week, total] visits summed over the API's rows."""
    return [sum(s["online"] for s in sites)] + [sum(s[p]["visits"] for s in sites) for p in ("today", "week", "total")]


def test_a_thousand_sites_page_fifty_at_a_time_with_totals_for_all_and_per_group(thousand, page):
    """Page 1 of 20 holds the first 50 sites by id, the total row sums all 1,000 as the API does, each
    group's row sums its members; Next and Previous move a page and back."""
    vi = WORDS["vi"]
    sign_in(page, thousand)
    everyone = api_sites(thousand)
    assert len(everyone) == 1000
    ids = sorted(s["site"] for s in everyone)
    expect(page.locator("h1 .count")).to_have_text("1.000")
    expect(page.locator(".search .found")).to_have_text(vi["found"].format(n="1.000"))
    assert shown_sites(page) == ids[:PAGE_ROWS]

    foot = total_row(page)
    assert foot[0].strip() == vi["all_sites"] and number(foot[1]) == 1000
    assert [number(t) for t in foot[3:]] == expected_sums(everyone)
    assert expected_sums(everyone)[3] > 0
    assert group_rows(page) == {
        group: [count] + expected_sums([s for s in everyone if s["group"] == group])
        for group, (_, _, count) in sorted(GROUPS.items())}

    pager = page.get_by_role("navigation", name=vi["pages"])
    expect(pager.locator("span")).to_have_text(vi["page_of"].format(n=1, of=20))
    expect(pager.get_by_role("link", name=vi["previous"])).to_have_count(0)
    pager.get_by_role("link", name=vi["next"]).click()
    expect(pager.locator("span")).to_have_text(vi["page_of"].format(n=2, of=20))
    assert shown_sites(page) == ids[PAGE_ROWS:2 * PAGE_ROWS]
    assert number(total_row(page)[1]) == 1000  # the total row is of all sites on every page
    pager.get_by_role("link", name=vi["previous"]).click()
    expect(pager.locator("span")).to_have_text(vi["page_of"].format(n=1, of=20))
    assert shown_sites(page) == ids[:PAGE_ROWS]

    page.goto(f"{thousand.url}dashboard?page=20")
    expect(pager.locator("span")).to_have_text(vi["page_of"].format(n=20, of=20))
    assert shown_sites(page) == ids[-PAGE_ROWS:]
    expect(pager.get_by_role("link", name=vi["next"])).to_have_count(0)
    assert not page.problems, page.problems


def test_search_narrows_the_rows_by_id_or_domain_and_keeps_to_it_across_pages(thousand, page):
    """Searching "bentre" (a word of the domains only) keeps Bến Tre's 80 sites, 50 then 30; "xa-05" their ids."""
    en = WORDS["en"]
    sign_in(page, thousand, lang="en")
    page.get_by_label(en["search_sites"]).fill("bentre")
    page.keyboard.press("Enter")
    expect(page.locator(".search .found")).to_have_text(en["found"].format(n="80"))
    assert "q=bentre" in page.url
    first = shown_sites(page)
    assert len(first) == PAGE_ROWS and all(s.startswith("bt-") for s in first)
    pager = page.get_by_role("navigation", name=en["pages"])
    expect(pager.locator("span")).to_have_text(en["page_of"].format(n=1, of=2))
    pager.get_by_role("link", name=en["next"]).click()
    expect(pager.locator("span")).to_have_text(en["page_of"].format(n=2, of=2))
    assert sorted(first + shown_sites(page)) == [f"bt-{n:04d}" for n in range(80)]
    expect(page.get_by_label(en["search_sites"])).to_have_value("bentre")

    page.get_by_label(en["search_sites"]).fill("xa-05")
    page.get_by_role("button", name=en["search"]).click()
    expect(page.locator(".search .found")).to_have_text(en["found"].format(n="100"))
    assert shown_sites(page) == [f"xa-{n:04d}" for n in range(500, 550)]
    assert [s["site"] for s in api_sites(thousand, q="xa-05")][:PAGE_ROWS] == shown_sites(page)

    page.get_by_label(en["search_sites"]).fill("no-such-site")
    page.keyboard.press("Enter")
    expect(page.get_by_text(en["no_match"])).to_be_visible()
    assert not page.problems, page.problems


def tab_to(page, name: str, most: int = 40) -> None:
    """Press Tab until the element named ``name`` has the focus (as a keyboard user would reach it)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.getAttribute('aria-label')") == name:
            return
    raise AssertionError(f"{name!r} not reached in {most} presses of Tab")


def test_sorting_by_a_column_works_by_keyboard(thousand, page):
    """Tab to "Sort by total", Enter: the sites with the most visits come first, as the API's -total says,
    and the header says so (aria-sort); Enter again turns the order round."""
    vi = WORDS["vi"]
    sign_in(page, thousand)
    label = vi["sort_by"].format(col=vi["total"])
    page.get_by_label(vi["search_sites"]).focus()
    tab_to(page, label)
    page.keyboard.press("Enter")
    header = page.locator("table.sites >> nth=0").locator("thead th").filter(has=page.get_by_label(label))
    expect(header).to_have_attribute("aria-sort", "descending")
    totals = {s["site"]: s["total"]["visits"] for s in api_sites(thousand)}
    top = [s["site"] for s in api_sites(thousand, sort="-total")[:len(SEEDED)]]
    assert top == sorted(SEEDED, key=lambda site: -totals[site])
    assert shown_sites(page)[:len(SEEDED)] == top
    column = [number(t) for t in page.locator("table.sites >> nth=0").locator("tbody tr td:last-child")
              .all_text_contents()]
    assert column == sorted(column, reverse=True) and column[0] == totals[top[0]] > 0

    page.get_by_label(vi["search_sites"]).focus()
    tab_to(page, label)
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert not set(shown_sites(page)) & set(SEEDED)  # 50 sites with no visits come first now
    assert not page.problems, page.problems


def test_the_csv_link_downloads_the_whole_list(thousand, page):
    """The download link gives all 1,000 sites, not the page's 50: a header and 1,000 rows, the API's numbers."""
    vi = WORDS["vi"]
    sign_in(page, thousand)
    with page.expect_download() as download:
        page.get_by_role("link", name=vi["export_sites"]).click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["site", "group", "domains", "timezone", "online", "today_visits", "week_visits", "total_visits"]
    assert len(rows) == 1001
    api = {s["site"]: s for s in api_sites(thousand)}
    assert sorted(r[0] for r in rows[1:]) == sorted(api)
    for site, group, domains, _zone, _online, _today, _week, total in rows[1:]:
        assert (group, domains.split(), int(total)) == (api[site]["group"] or "", api[site]["domains"],
                                                       api[site]["total"]["visits"]), site


def lines_of_text(page, selector: str) -> set[int]:
    """How many lines the text of each matching element takes, as a set."""
    return set(page.evaluate("""(selector) => [...document.querySelectorAll(selector)].map(el => {
        const range = document.createRange(); range.selectNodeContents(el);
        return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; })""", selector))



@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_screen_of_a_thousand_sites_has_no_serious_accessibility_violation(thousand, axe_context, lang):
    """axe finds nothing serious or critical on the operator's screen of 1,000 sites, sorted and searched
    too; the screen is photographed 1280 wide into tests/artifacts/operator-1000-sites-<lang>.png."""
    page = axe_context.new_page()
    sign_in(page, thousand, lang=lang)
    assert lines_of_text(page, "table.sites tbody td.group") == {1}  # "tinh-ben-tre" not broken at its hyphens
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"operator-1000-sites-{lang}.png"), full_page=True)
    for name, query in (("", ""), ("-sorted", "?sort=total&dir=desc&page=2"), ("-searched", "?q=bentre")):
        if query:
            page.goto(f"{thousand.url}dashboard{query}")
        found = axe_violations(page, f"operator-1000-sites-{lang}{name}")
        assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, (name, found)


def test_a_site_token_sees_only_its_three_sites(thousand, browser):
    """A token for three of the thousand sites lists those three, totals only theirs (all and per group),
    has no pager, and its CSV holds the same three rows."""
    vi = WORDS["vi"]
    answer = thousand.client.post("/api/v1/tokens", headers=ADMIN,
                                  json={"label": "Sở Văn hóa", "sites": list(TOKEN_SITES)})
    assert answer.status_code == 201, answer.get_json()
    token = answer.get_json()["token"]
    mine = api_sites(thousand, headers={"Authorization": f"Bearer {token}"})
    assert sorted(s["site"] for s in mine) == sorted(TOKEN_SITES)

    context = browser.new_context(user_agent=DESKTOP_CHROME, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, thousand, token)
        expect(page.locator("h1 .count")).to_have_text("3")
        assert shown_sites(page) == sorted(TOKEN_SITES)
        foot = total_row(page)
        assert number(foot[1]) == 3 and [number(t) for t in foot[3:]] == expected_sums(mine)
        assert group_rows(page) == {"tinh-tra-vinh": [2] + expected_sums([s for s in mine if s["group"]])}
        expect(page.get_by_role("navigation", name=vi["pages"])).to_have_count(0)
        page.get_by_label(vi["search_sites"]).fill("xa-")
        page.keyboard.press("Enter")
        expect(page.locator(".search .found")).to_have_text(vi["found"].format(n="1"))
        assert shown_sites(page) == ["xa-0500"]
        with page.expect_download() as download:
            page.get_by_role("link", name=vi["export_sites"]).click()
        rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
        assert [r[0] for r in rows[1:]] == ["xa-0500"]  # the download follows the search
        whole = page.request.get(f"{thousand.url}dashboard/sites.csv")  # the session's cookie, no search
        assert sorted(r[0] for r in list(csv.reader(io.StringIO(whole.text().lstrip("\ufeff"))))[1:]) == \
            sorted(TOKEN_SITES)
    finally:
        context.close()
