"""Audit: the failed-attempt and sign-in limits counted each IPv6 address on its own.

An IPv6 subscriber holds a /64 (often a /56): taking a fresh address every AUTH_FAILURES_PER_MINUTE
guesses made the limit no limit. A client is now its /64 (an IPv4 address, or an IPv4-mapped one,
as before).
"""

from __future__ import annotations

from .conftest import ADMIN_TOKEN


def test_one_ipv6_prefix_is_one_client_for_the_failed_attempt_limit(app, client):
    limit = app.extensions["settings"].AUTH_FAILURES_PER_MINUTE
    for n in range(limit):
        answer = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer guess-{n}"},
                            environ_base={"REMOTE_ADDR": f"2001:db8:aa:bb::{n + 1:x}"})
        assert answer.status_code == 401
    fresh = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                       environ_base={"REMOTE_ADDR": "2001:db8:aa:bb:ffff:1:2:3"})
    assert fresh.status_code == 429
    neighbour = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                           environ_base={"REMOTE_ADDR": "2001:db8:aa:bc::1"})
    assert neighbour.status_code == 200


def test_ipv4_addresses_are_still_each_their_own(app, client):
    limit = app.extensions["settings"].AUTH_FAILURES_PER_MINUTE
    for n in range(limit):
        client.get("/api/v1/tokens", headers={"Authorization": f"Bearer guess-{n}"},
                   environ_base={"REMOTE_ADDR": "203.0.113.10"})
    assert client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                      environ_base={"REMOTE_ADDR": "203.0.113.11"}).status_code == 200
    assert client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                      environ_base={"REMOTE_ADDR": "::ffff:203.0.113.10"}).status_code == 429
