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


DASHBOARD_PAGES = (("/tin-tuc/ky-hop-hdnd", "Kỳ họp thứ 12 HĐND tỉnh khóa X: thông qua 25 nghị quyết"),
                   ("/tin-tuc/lich-cup-dien", "Lịch cúp điện tuần này"),
                   ("/thu-tuc/dang-ky-ho-kinh-doanh", "=HYPERLINK(\"http://evil.example\") Thủ tục đăng ký hộ kinh doanh"),
                   ("/gioi-thieu", "Giới thiệu chung"))
"""Pages the dashboard tests visit: Vietnamese titles, and one a spreadsheet would run as a formula."""


def seed_history(store, site: str, days: int, now, timezone: str = "Asia/Ho_Chi_Minh") -> None:
    """Write ``days`` local days of varied traffic ending today through the real hit script
    (CounterStore.record_hits): a few visitors a day, each reading one to three pages."""
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from service.model.hits import Hit

    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        start = datetime.combine(day, time(1), tzinfo=tz) if back else now - timedelta(minutes=50)
        hits = []
        for visitor in range(2 + (back * 7) % 11):
            for read in range(1 + (back + visitor) % 3):
                path, title = DASHBOARD_PAGES[(visitor + read + back) % len(DASHBOARD_PAGES)]
                # Every third visitor comes back after 40 minutes: a second visit the same day.
                at = start + timedelta(minutes=visitor + read * (40 if visitor % 3 == 0 else 10))
                hits.append(Hit(site, f"seed-{back}-{visitor}", "pageview", at, timezone, "seed", page=path,
                                title=title))
        store.record_hits(hits, batch_id=f"seed-{site}-{back}")
