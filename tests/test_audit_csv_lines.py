"""Audit: a CSV upload with no line break cost CPU quadratic in its size.

codecs' StreamReader, iterated by line, grows a line by repeated concatenation before the length
check sees it: 16 MiB took 27 s of one core, and PUT /api/v1/sites/<site>/pages/baseline (open to a
site token) takes 256 MiB, hours of CPU for one request. Lines are now read at most just past their
limit.
"""

from __future__ import annotations

import time

from .helpers import ADMIN, add_site

BODY_BYTES = 12 * 2**20
"""~15 s with the old reader; a few milliseconds now."""


def _site_token(client) -> dict:
    made = client.post("/api/v1/tokens", json={"label": "webmaster", "sites": ["travinh"]}, headers=ADMIN)
    return {"Authorization": f"Bearer {made.get_json()['token']}"}


def test_a_page_baseline_csv_without_line_breaks_is_refused_at_once(client):
    add_site(client)
    started = time.perf_counter()
    answer = client.put("/api/v1/sites/travinh/pages/baseline", data=b"/a" * (BODY_BYTES // 2),
                        content_type="text/csv", headers=_site_token(client))
    elapsed = time.perf_counter() - started
    assert answer.status_code == 400
    assert elapsed < 3, f"{elapsed:.1f} s"


def test_a_sites_csv_without_line_breaks_is_refused_at_once(client):
    started = time.perf_counter()
    answer = client.put("/api/v1/sites", data=b"site,domains\n" + b"a" * BODY_BYTES, content_type="text/csv",
                        headers=ADMIN)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 400
    assert elapsed < 3, f"{elapsed:.1f} s"


def test_csv_imports_still_read_every_line_ending_and_a_bom(client):
    add_site(client)
    done = client.put("/api/v1/sites", data="\ufeffsite,domains,timezone,group\r\nb-1,b1.gov.vn,,g\rb-2,\"b2.gov.vn www.b2.gov.vn\",UTC,\nb-3,b3.gov.vn,,".encode(),
                      content_type="text/csv", headers=ADMIN).get_json()
    assert (done["created"], done["errors"]) == (3, [])
    pages = client.put("/api/v1/sites/travinh/pages/baseline", data="path,views\r\n/tin-tuc/a,10\n/tin-tuc/b,20\r/c,5".encode(),
                       content_type="text/csv", headers=ADMIN).get_json()
    assert (pages["rows_read"], pages["imported"]) == (3, 3)
    assert client.put("/api/v1/sites", data=b"site,domains\n\xff,x\n", content_type="text/csv",
                      headers=ADMIN).status_code == 400
