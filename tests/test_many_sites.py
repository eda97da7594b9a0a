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
    sites = [Site(f"xa-{n:04d}", (f"xa{n}.travinh.gov.vn",), "Asia/Ho_Chi_Minh") for n in range(start, start + count)]
    for site in sites:
        store.put_site(site)
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
