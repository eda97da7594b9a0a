"""Reads over many sites: one pipeline for all of them, the same numbers as one site at a time."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from prometheus_client import REGISTRY

from service import create_app
from service.model.sites import Site

from .helpers import seed_history
from .test_dashboard import Clock, sign_in

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)


def round_trips() -> float:
    """Redis round trips this process has timed so far (va_redis_seconds counts one per round trip)."""
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "va_redis_seconds"
               for sample in metric.samples if sample.name == "va_redis_seconds_count")


def register(store, count: int, start: int = 0) -> list[Site]:
    """Register ``count`` communes in a few pipelines (the bulk path), in groups of a hundred."""
    sites = [Site(f"xa-{n:04d}", (f"xa{n}.travinh.gov.vn",), "Asia/Ho_Chi_Minh", group=f"huyen-{n // 100}")
             for n in range(start, start + count)]
    store.put_sites(sites)
    return sites


@pytest.fixture
def app(app_config):
    return create_app({**app_config, "CLOCK": Clock(NOW)})


def test_counters_of_many_sites_match_one_at_a_time(app):
    """read_counters_many answers each site's own numbers, in the order asked, for sites of different zones."""
    store = app.extensions["store"]
    sites = register(store, 5)
    sites.append(Site("ha-noi", ("hanoi.gov.vn",), "Europe/Berlin"))
    store.put_site(sites[-1])
    for n, site in enumerate(sites):
        seed_history(store, site.id, days=3 + n, now=NOW, timezone=site.timezone)
    many = store.read_counters_many(sites, NOW, 0)
    assert many == [store.read_counters(site, NOW, 0) for site in sites]
    assert len({m["total"]["pageviews"] for m in many}) > 1  # the sites really differ
    assert store.read_counters_many([], NOW, 0) == []


def test_operator_screen_costs_the_same_round_trips_at_4_and_40_sites(app):
    """The operator's table of sites reads Redis a fixed number of times however many sites there are."""
    store = app.extensions["store"]
    client = app.test_client()
    assert sign_in(client).status_code == 303
    register(store, 4)
    before = round_trips()
    page = client.get("/dashboard")
    small = round_trips() - before
    assert page.status_code == 200 and page.get_data(as_text=True).count("xa-00") >= 4
    register(store, 36, start=4)
    before = round_trips()
    page = client.get("/dashboard")
    large = round_trips() - before
    assert page.status_code == 200
    assert len(re.findall(r"xa-00\d\d", page.get_data(as_text=True))) >= 40
    assert small == large, (small, large)
    assert large <= 6, large


def cost(client, path: str, **kwargs):
    """An answer and the Redis round trips it took."""
    before = round_trips()
    answer = client.get(path, **kwargs)
    return answer, round_trips() - before


LIST_CALLS = ["/api/v1/sites?limit=100", "/api/v1/sites?limit=100&sort=-today", "/api/v1/sites?q=xa1&sort=-online",
              "/api/v1/sites?group=huyen-0&sort=-total", "/api/v1/sites?sort=site&q=travinh"]


@pytest.mark.parametrize("path", LIST_CALLS)
def test_sites_list_costs_the_same_round_trips_at_10_and_1000_sites(app, path):
    """Each way of asking for the sites list reads Redis as many times with a thousand sites as with ten."""
    from .helpers import ADMIN

    store = app.extensions["store"]
    client = app.test_client()
    register(store, 10)
    small_answer, small = cost(client, path, headers=ADMIN)
    assert small_answer.status_code == 200 and small_answer.get_json()["count"] >= 1
    register(store, 990, start=10)
    large_answer, large = cost(client, path, headers=ADMIN)
    assert large_answer.status_code == 200 and large_answer.get_json()["count"] > small_answer.get_json()["count"]
    assert small == large, (small, large)
    assert large <= 4, large


@pytest.mark.parametrize("query", ["", "?sort=today&dir=desc", "?q=xa-00&page=2", "?page=20&sort=total"])
def test_operator_screen_and_csv_cost_the_same_round_trips_at_10_and_1000_sites(app, query):
    """The operator's screen (50 rows a page, totals, sparklines) and its CSV read Redis as many times
    with a thousand sites as with ten."""
    store = app.extensions["store"]
    client = app.test_client()
    assert sign_in(client).status_code == 303
    register(store, 10)
    small_page, small = cost(client, f"/dashboard{query}")
    small_csv, small_csv_trips = cost(client, f"/dashboard/sites.csv{query}")
    assert small_page.status_code == 200 and small_csv.status_code == 200
    register(store, 990, start=10)
    large_page, large = cost(client, f"/dashboard{query}")
    large_csv, large_csv_trips = cost(client, f"/dashboard/sites.csv{query}")
    assert large_page.status_code == 200
    text = large_page.get_data(as_text=True)
    assert 1 <= len(re.findall(r'<th scope="row"><a href="/dashboard/sites/xa-', text)) <= 50
    assert (small, small_csv_trips) == (large, large_csv_trips)
    assert large <= 5, large
    assert large_csv.get_data(as_text=True).count("xa-") > small_csv.get_data(as_text=True).count("xa-")


def test_operator_screen_pages_searches_and_totals_a_thousand_sites(app):
    """Fifty rows a page in the order asked, the search keeps matching sites, the totals count every site
    and each group, and the CSV holds the whole list."""
    from .helpers import hit

    store = app.extensions["store"]
    client = app.test_client()
    assert sign_in(client).status_code == 303
    register(store, 1000)
    for n, reads in ((5, 3), (250, 2), (999, 1)):
        for r in range(reads):
            assert hit(client, site=f"xa-{n:04d}", url=f"https://xa{n}.travinh.gov.vn/{r}",
                       ip=f"203.0.113.{r + 9}").status_code == 204
    first = client.get("/dashboard").get_data(as_text=True)
    assert re.findall(r"/dashboard/sites/(xa-\d+)", first)[:50] == [f"xa-{n:04d}" for n in range(50)]
    assert "Trang 1/20" in first
    last = client.get("/dashboard?page=20").get_data(as_text=True)
    assert "xa-0999" in last and "xa-0949" not in last
    top = client.get("/dashboard?sort=today&dir=desc").get_data(as_text=True)
    assert re.findall(r"/dashboard/sites/(xa-\d+)", top)[:3] == ["xa-0005", "xa-0250", "xa-0999"]
    found = client.get("/dashboard?q=xa25").get_data(as_text=True)
    assert set(re.findall(r"/dashboard/sites/(xa-\d+)", found)) == {"xa-0025", *(f"xa-{n:04d}" for n in range(250, 260))}
    totals = re.search(r'class="total-row">.*?</tr>', first, re.S).group(0)
    assert re.findall(r'class="num">([\d.]+)<', totals) == ["6", "6", "6", "6"]  # online, today, week, total
    groups = first[first.index('id="groups-title"'):]
    assert groups.count('<th scope="row">huyen-') == 10
    csv_text = client.get("/dashboard/sites.csv").get_data(as_text=True)
    assert csv_text.count("\n") == 1001 and '"xa-0999"' in csv_text


def test_metrics_name_no_site(app):
    """/metrics carries no per-site label or value: fifty registered and hit sites, none of their ids in it."""
    from .helpers import hit

    store = app.extensions["store"]
    client = app.test_client()
    register(store, 50)
    for n in range(50):
        assert hit(client, site=f"xa-{n:04d}", url=f"https://xa{n}.travinh.gov.vn/").status_code == 204
    hit(client, site="xa-0001", url="https://elsewhere.example/")
    text = client.get("/metrics").get_data(as_text=True)
    assert "va_hits_total" in text
    assert not re.search(r"xa-?\d|travinh|huyen", text)
