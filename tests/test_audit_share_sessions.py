"""Audit: opening a share link makes a server-side session; nothing bounded how many.

Each GET /dashboard/share/<secret> without a cookie made a new session (~610 bytes of Redis, kept
DASHBOARD_SESSION_HOURS): one client looping on a link that was forwarded to the press could make
about 900 a second from a test client, 26 GB in the 12 hours a session lives, until Redis refuses
writes (noeviction) and no hit is counted; GET /api/v1/sessions then reads them all in one go. A
share opening is a sign-in: it now counts against DASHBOARD_SIGNIN_PER_MINUTE per address, as the
sign-in form does.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from service import create_app

from .helpers import ADMIN, add_site
from .test_dashboard import Clock

NOW = datetime(2026, 11, 28, 5, 0, 10, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def app(app_config, clock):
    return create_app({**app_config, "CLOCK": clock})


def test_one_address_cannot_mint_share_sessions_without_bound(app, redis_client, clock):
    client = app.test_client()
    add_site(client)
    share = client.post("/api/v1/sites/travinh/shares", json={"label": "press"}, headers=ADMIN).get_json()
    path = urlsplit(share["url"]).path
    limit = app.extensions["settings"].DASHBOARD_SIGNIN_PER_MINUTE
    answers = [app.test_client().get(path, environ_base={"REMOTE_ADDR": "198.51.100.7"}) for _ in range(50)]
    assert sum(r.status_code == 303 for r in answers) == limit
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) == 50 - limit and refused[0].headers["Retry-After"]
    assert redis_client.zcard("va:sessions") == limit
    # Another reader still gets in; the first one does again the next minute.
    assert app.test_client().get(path, environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code == 303
    clock.now += timedelta(minutes=1)
    assert app.test_client().get(path, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 303


def test_a_reader_with_the_share_session_already_is_not_counted(app, clock):
    client = app.test_client()
    add_site(client)
    share = client.post("/api/v1/sites/travinh/shares", json={}, headers=ADMIN).get_json()
    path = urlsplit(share["url"]).path
    reader = app.test_client()
    assert reader.get(path, environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 303
    for _ in range(30):  # the same browser following the link again: its session already, no new one
        assert reader.get(path, environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 303


def test_share_sessions_from_many_addresses_are_bounded_in_total(app, redis_client, clock, monkeypatch):
    """The per-address limit does not bound a link opened from many addresses: past MAX_SHARE_SESSIONS
    the share sessions nearest their end are ended (their readers open the link again); an
    operator's session is never pushed out."""
    from service.storage import keys

    monkeypatch.setattr(keys, "MAX_SHARE_SESSIONS", 3)
    client = app.test_client()
    add_site(client)
    share = client.post("/api/v1/sites/travinh/shares", json={"label": "press"}, headers=ADMIN).get_json()
    path = urlsplit(share["url"]).path
    operator = app.test_client()
    form = operator.get("/dashboard/signin").get_data(as_text=True)
    csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert operator.post("/dashboard/signin", data={"csrf": csrf, "token": ADMIN["Authorization"][7:]}).status_code == 303
    readers = []
    for n in range(5):
        clock.now += timedelta(seconds=1)  # each later session ends later
        reader = app.test_client()
        assert reader.get(path, environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"}).status_code == 303
        readers.append(reader)
    assert redis_client.zcard("va:sessions:share") == 3 and redis_client.zcard("va:sessions") == 4
    open_ = [reader.get("/dashboard/sites/travinh").status_code for reader in readers]
    assert open_[:2] != [200, 200] and open_[2:] == [200, 200, 200], open_
    assert operator.get("/dashboard").status_code == 200
