"""record_hits.lua on whole batches: a key of the wrong type is refused by name before any write, a session
key of another type is replaced, and a batch's visits are tallied per name, with the same caps as one by one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from service.errors import RedisReplyError
from service.model.hits import Hit
from service.storage import keys

from .helpers import add_site, counters

ZONE = "Asia/Ho_Chi_Minh"


def visit(visitor: str, at: datetime, **fields) -> Hit:
    return Hit("travinh", visitor, "pageview", at, ZONE, page="/tin-tuc", **fields)


def site_dump(redis_client) -> dict:
    return {k: redis_client.dump(k) for k in redis_client.keys("va:{travinh}:*") if b":b:" not in k}


@pytest.mark.parametrize("kind, value", [("src", "a string"), ("pg:d", None)])
def test_a_key_of_the_wrong_type_is_named_and_nothing_is_written(app, client, redis_client, kind, value):
    """The batch is refused before its first write, and the error names the key and the type it must be."""
    add_site(client)
    store = app.extensions["store"]
    now = datetime.now(timezone.utc)
    store.record_hits([visit("first", now, channel="search", source="Google")], batch_id="one")
    day = now.astimezone(ZoneInfo(ZONE)).date().isoformat()
    key = next(k for k in redis_client.keys(f"va:{{travinh}}:{kind}:{day}"))
    redis_client.delete(key)
    if value is None:
        redis_client.rpush(key, "a list")  # where a sorted set of pages belongs
    else:
        redis_client.set(key, value)      # where a hash of sources belongs
    before = site_dump(redis_client)
    with pytest.raises(RedisReplyError) as refused:
        store.record_hits([visit("second", now, channel="search", source="Google")], batch_id="two")
    assert "WRONGTYPE" in refused.value.redis_message
    if kind == "src":  # a key probed before the writes is named (the day's pages are read earlier, by the cap)
        assert f"{key.decode()} is not a hash" in refused.value.redis_message
    assert site_dump(redis_client) == before
    assert counters(client)["total"] == {"visits": 1, "pageviews": 1, "visitors": 1}


def test_a_session_key_of_another_type_is_replaced(app, client, redis_client):
    """A session key holding something else (not ours to keep) reads as no session: the hit begins a
    visit and the key becomes a session again, where the whole batch used to be refused."""
    add_site(client)
    store = app.extensions["store"]
    now = datetime.now(timezone.utc)
    assert store.record_hits([visit("reader", now)], batch_id="one") == ["visit"]
    [session] = redis_client.keys("va:{travinh}:s:*")
    redis_client.delete(session)
    redis_client.hset(session, "not", "a session")
    assert store.record_hits([visit("reader", now + timedelta(seconds=5)),
                              visit("reader", now + timedelta(seconds=9))], batch_id="two") == ["visit", "pageview"]
    assert redis_client.type(session) == b"string"
    assert counters(client)["total"]["pageviews"] == 3


def test_a_batch_of_visits_counts_each_name_as_one_by_one(app_config, redis_client):
    """Visits tallied per name in one batch: the same sums, the same cap (SOURCES_PER_DAY names, then
    '(other)' of the channel), the same names kept as when each visit comes alone."""
    from service import create_app

    now = datetime.now(timezone.utc)
    hits = [visit(f"reader-{n}", now + timedelta(seconds=n), channel="search", source=f"Nguồn {n % 13}",
                  device="mobile", browser=f"Trình duyệt {n % 12}", os="Android", app="Zalo" if n % 2 else "none")
            for n in range(20)]
    found = []
    for batches in ([hits], [[h] for h in hits]):
        redis_client.flushall()
        app = create_app({**app_config, "SOURCES_PER_DAY": 10})
        add_site(app.test_client())
        store = app.extensions["store"]
        for number, batch in enumerate(batches):
            assert {*store.record_hits(batch, batch_id=f"b{number}")} == {"visit"}
        day = now.astimezone(ZoneInfo(ZONE)).date().isoformat()
        found.append({kind: {k.decode(): int(v) for k, v in redis_client.hgetall(f"va:{{travinh}}:{kind}:{day}").items()}
                      for kind in ("src", "dev", "br", "os")})
    together, alone = found
    assert together == alone
    # The first 10 names seen are kept; the other 3 (13 sources, 12 browsers) count as '(other)' / 'Other'.
    assert together["src"] == {**{f"search|Nguồn {i}": 2 for i in range(7)}, **{f"search|Nguồn {i}": 1 for i in (7, 8, 9)},
                               "search|(other)": 3}
    assert together["br"] == {**{f"Trình duyệt {i}": 2 for i in range(8)}, "Trình duyệt 8": 1, "Trình duyệt 9": 1,
                              "Other": 2}
    assert together["dev"] == {"d|mobile": 20, "a|Zalo": 10, "a|none": 10}
    assert together["os"] == {"Android": 20}


def test_a_batch_over_many_sites_is_refused_whole_when_one_site_has_a_key_of_the_wrong_type(app, client, redis_client):
    """One script call counts the whole batch: a wrong key of its last site stops the writes of every
    site before it too, and once the key is fixed the batch is written whole."""
    sites = [f"xa-{n}" for n in range(5)]
    for site in sites:
        add_site(client, site, (f"{site}.gov.vn",))
    store = app.extensions["store"]
    now = datetime.now(timezone.utc)
    redis_client.set(keys.total("xa-4"), "not a hash")  # where the last site's all-time totals belong
    before = {k: redis_client.dump(k) for k in redis_client.keys("va:*")}
    batch = [Hit(site, f"reader-{n}", "pageview", now, ZONE, page="/a") for n, site in enumerate(sites)]
    with pytest.raises(RedisReplyError) as refused:
        store.record_hits(batch, batch_id="many")
    assert f"{keys.total('xa-4')} is not a hash" in refused.value.redis_message
    assert {k: redis_client.dump(k) for k in redis_client.keys("va:*")} == before
    redis_client.delete(keys.total("xa-4"))
    assert store.record_hits(batch, batch_id="many") == ["visit"] * 5
    assert [counters(client, site)["total"]["pageviews"] for site in sites] == [1] * 5


def test_a_site_of_a_batch_written_before_counts_nothing_and_the_others_count(app, client, redis_client):
    """Each site and day of a batch keeps its own marker: when one of them was written by an earlier
    attempt (an older version called the script once per site), a retry counts only the others."""
    for site in ("xa-a", "xa-b"):
        add_site(client, site, (f"{site}.gov.vn",))
    store = app.extensions["store"]
    now = datetime.now(timezone.utc)
    first = Hit("xa-a", "reader", "pageview", now, ZONE, page="/a")
    second = Hit("xa-b", "reader", "pageview", now, ZONE, page="/b")
    assert store.record_hits([first], batch_id="retried") == ["visit"]  # the marker of the batch's group 0
    assert store.record_hits([first, second], batch_id="retried") == ["duplicate", "visit"]
    assert counters(client, "xa-a")["total"]["pageviews"] == 1
    assert counters(client, "xa-b")["total"]["pageviews"] == 1


def test_a_day_s_visitors_key_that_is_no_hyperloglog_is_named_and_nothing_is_written(app, client, redis_client):
    """The day's distinct visitors are a HyperLogLog: a plain string there refuses the batch by name."""
    add_site(client)
    store = app.extensions["store"]
    now = datetime.now(timezone.utc)
    day = now.astimezone(ZoneInfo(ZONE)).date().isoformat()
    redis_client.set(f"va:{{travinh}}:u:{day}", "no estimate")
    before = site_dump(redis_client)
    with pytest.raises(RedisReplyError) as refused:
        store.record_hits([visit("reader", now)], batch_id="one")
    assert f"va:{{travinh}}:u:{day} is not a HyperLogLog" in refused.value.redis_message
    assert site_dump(redis_client) == before


def test_a_batch_with_no_hits_left_still_writes_its_turned_away_tally(app, client, redis_client):
    """A batch whose hits all went (their site was removed while Redis was away) still carries the
    tally of hits turned away at once: written, with no script call for hits that are not there."""
    from collections import Counter

    add_site(client)
    store = app.extensions["store"]
    day = datetime.now(timezone.utc).astimezone(ZoneInfo(ZONE)).date()
    assert store.record_hits([], batch_id="empty", drops={("travinh", ZONE, day): Counter({"bot": 2})}) == []
    assert redis_client.hgetall(keys.not_counted("travinh", day)) == {b"bot": b"2"}


def test_one_day_written_by_two_groups_of_a_batch_keeps_the_page_cap(app_config, redis_client):
    """A site whose time zone changes while hits wait in a buffer sends one batch with a group per zone
    for the same local day (both UTC+7 here): the second group sees the first one's pages, and the day
    keeps PAGES_PER_DAY pages, the rest counted for the site only, as when the groups come one by one."""
    from service import create_app

    now = datetime.now(timezone.utc)
    batch = [Hit("travinh", f"reader-{n}", "pageview", now, zone, page=f"/{zone[5:]}-{n}")
             for zone in ("Asia/Ho_Chi_Minh", "Asia/Bangkok") for n in range(8)]
    found = []
    for batches in ([batch], [batch[:8], batch[8:]]):
        redis_client.flushall()
        app = create_app({**app_config, "PAGES_PER_DAY": 10})
        add_site(app.test_client())
        store = app.extensions["store"]
        for number, part in enumerate(batches):
            store.record_hits(part, batch_id=f"b{number}")
        day = now.astimezone(ZoneInfo(ZONE)).date()
        found.append((redis_client.zrange(keys.pages_day("travinh", day), 0, -1),
                      counters(app.test_client())["today"]["pageviews"]))
    together, one_by_one = found
    assert together == one_by_one
    assert len(together[0]) == 10 and together[1] == 16
