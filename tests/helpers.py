"""Small helpers shared by the tests: register a site, send hits, read counters."""

from __future__ import annotations

import json

from .conftest import ADMIN_TOKEN, CHROME

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def add_site(client, site="travinh", domains=("travinh.gov.vn", "www.travinh.gov.vn"),
             timezone="Asia/Ho_Chi_Minh"):
    response = client.put(f"/api/v1/sites/{site}", json={"domains": list(domains), "timezone": timezone},
                          headers=ADMIN)
    assert response.status_code in (200, 201), response.get_json()
    return response


def hit(client, site="travinh", url="https://travinh.gov.vn/tin-tuc/abc", ip="203.0.113.7",
        agent=CHROME, kind=None, headers=None, **extra):
    body = {"site": site, "url": url, **extra}
    if kind:
        body["type"] = kind
    return client.post("/api/v1/hit", data=json.dumps(body), content_type="text/plain",
                       headers={"User-Agent": agent, **(headers or {})},
                       environ_base={"REMOTE_ADDR": ip})


def counters(client, site="travinh") -> dict:
    response = client.get(f"/api/v1/sites/{site}/counters")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def dropped_total(client) -> float:
    """va_hits_total{outcome="dropped"} as /metrics shows it."""
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith('va_hits_total{outcome="dropped"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
