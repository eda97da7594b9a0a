"""Admin API for sites: create, update, read, list, delete (with and without purge)."""

from __future__ import annotations

from .helpers import ADMIN, add_site, counters, hit


def test_put_creates_then_updates(client):
    """First PUT answers 201, the next 200; domains are normalized and deduplicated."""
    body = {"domains": ["TraVinh.gov.vn", "travinh.gov.vn.", "*.TraVinh.gov.vn"]}
    first = client.put("/api/v1/sites/travinh", json=body, headers=ADMIN)
    assert first.status_code == 201
    assert first.get_json() == {"site": "travinh", "domains": ["travinh.gov.vn", "*.travinh.gov.vn"],
                                "timezone": "Asia/Ho_Chi_Minh", "page_params": [], "group": None}
    second = client.put("/api/v1/sites/travinh", json={"domains": ["a.vn"], "timezone": "Europe/Berlin"},
                        headers=ADMIN)
    assert second.status_code == 200
    assert client.get("/api/v1/sites/travinh", headers=ADMIN).get_json()["timezone"] == "Europe/Berlin"
    listed = client.get("/api/v1/sites", headers=ADMIN).get_json()
    assert [row["site"] for row in listed["sites"]] == ["travinh"] and listed["count"] == 1
    assert listed["sites"][0]["timezone"] == "Europe/Berlin" and listed["next"] is None


def test_admin_routes_send_no_cors_header(client):
    """Admin answers carry no CORS header, so no other origin's page can read them."""
    add_site(client)
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/sites/travinh", headers=ADMIN).headers


def test_delete_stops_counting_but_keeps_numbers_until_readded(client):
    """DELETE keeps counters; re-adding the site brings them back."""
    add_site(client)
    hit(client)
    assert client.delete("/api/v1/sites/travinh", headers=ADMIN).status_code == 204
    assert hit(client).status_code == 404
    assert client.get("/api/v1/sites/travinh/counters").status_code == 404
    add_site(client)
    assert counters(client)["total"]["pageviews"] == 1


def test_delete_with_purge_erases_everything(client, redis_client):
    """DELETE ?purge=true leaves no key of the site behind."""
    add_site(client)
    add_site(client, site="other", domains=["other.vn"])
    hit(client)
    hit(client, site="other", url="https://other.vn/")
    assert client.delete("/api/v1/sites/travinh?purge=true", headers=ADMIN).status_code == 204
    assert not [k for k in redis_client.keys("*") if b"{travinh}" in k]
    assert [k for k in redis_client.keys("*") if b"{other}" in k]
    add_site(client)
    assert counters(client)["total"]["pageviews"] == 0


def test_purge_after_plain_delete_erases_the_kept_numbers(client, redis_client):
    """A site removed without purge can still be purged later: 204, and its numbers are gone."""
    add_site(client)
    hit(client)
    assert client.delete("/api/v1/sites/travinh", headers=ADMIN).status_code == 204
    assert client.delete("/api/v1/sites/travinh?purge=true", headers=ADMIN).status_code == 204
    assert not [k for k in redis_client.keys("*") if b"{travinh}" in k]
    assert client.delete("/api/v1/sites/travinh?purge=true", headers=ADMIN).status_code == 404
