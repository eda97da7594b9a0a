"""Audit: a JSON upload of nested brackets must cost memory linear in its size, not quadratic in its depth.

ijson's items/kvitems build each event's prefix ("pages.x.item.item...") as a new string: 80 KB of
``[`` took 4 GiB in one worker, 200 KB ran the machine out of memory. A site token may import page
baselines (SET_BASELINES), so this was open to every webmaster holding one.
"""

from __future__ import annotations

import tracemalloc

from .helpers import ADMIN, add_site

DEPTH = 5000
"""10 KB of brackets: ~60 MiB with the quadratic parse, well under 5 MiB without."""
PEAK_LIMIT = 16 * 2**20


def _peak(send) -> tuple[int, int]:
    tracemalloc.start()
    try:
        response = send()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response.status_code, peak


def _site_token(client, site="travinh") -> dict:
    made = client.post("/api/v1/tokens", json={"label": "webmaster", "sites": [site]}, headers=ADMIN)
    assert made.status_code == 201, made.get_json()
    return {"Authorization": f"Bearer {made.get_json()['token']}"}


def test_deep_page_baseline_from_a_site_token_is_refused_in_little_memory(client):
    add_site(client)
    headers = _site_token(client)
    body = b'{"pages": {"/a": 1}, "x": ' + b"[" * DEPTH + b"]" * DEPTH + b"}"
    status, peak = _peak(lambda: client.put("/api/v1/sites/travinh/pages/baseline", data=body,
                                            content_type="application/json", headers=headers))
    assert status == 400
    assert peak < PEAK_LIMIT, f"{peak / 2**20:.0f} MiB for {len(body)} bytes"


def test_deep_sites_import_is_refused_in_little_memory(client):
    body = b'{"sites": [' + b"[" * DEPTH + b"]" * DEPTH + b"]}"
    status, peak = _peak(lambda: client.put("/api/v1/sites", data=body, content_type="application/json",
                                            headers=ADMIN))
    assert status == 400
    assert peak < PEAK_LIMIT, f"{peak / 2**20:.0f} MiB for {len(body)} bytes"


def test_json_imports_still_read_their_rows(client):
    add_site(client)
    done = client.put("/api/v1/sites", json={"x": {"y": [1]}, "sites": [
        {"site": "a-1", "domains": ["a1.gov.vn"], "group": "g"},
        {"site": "a-2", "domains": "a2.gov.vn www.a2.gov.vn", "timezone": "Asia/Ho_Chi_Minh"}, 5]},
        headers=ADMIN)
    assert done.status_code == 200
    assert done.get_json()["created"] == 2
    assert [e["row"] for e in done.get_json()["errors"]] == [3]
    assert client.get("/api/v1/sites/a-2", headers=ADMIN).get_json()["domains"] == ["a2.gov.vn", "www.a2.gov.vn"]
    pages = client.put("/api/v1/sites/travinh/pages/baseline",
                       json={"source": {"k": [1]}, "pages": {"/tin-tuc/a": 120, "/tin-tuc/b": [1], "/c": 3.0}},
                       headers=ADMIN)
    assert pages.status_code == 200, pages.get_json()
    report = pages.get_json()
    assert (report["rows_read"], report["imported"], report["rejected"]) == (3, 2, 1)
    assert report["rejections"][0]["entry"] == 2


def test_one_wide_value_is_refused_before_it_is_built(client):
    """A path's views sent as one list of a million floats: built whole, ~12 bytes of memory per body
    byte (a 100 MiB body, well under the 256 MiB limit, is past the image's 1 GiB memory limit)."""
    add_site(client)
    headers = _site_token(client)
    body = b'{"pages": {"/a": [' + b"1.5," * 2**20 + b'1]}}'
    status, peak = _peak(lambda: client.put("/api/v1/sites/travinh/pages/baseline", data=body,
                                            content_type="application/json", headers=headers))
    assert status == 400
    assert peak < PEAK_LIMIT, f"{peak / 2**20:.0f} MiB for {len(body)} bytes"
    wide_site = b'{"sites": [{"site": "a", "domains": [' + b'"a.vn",' * 2**19 + b'"b.vn"]}]}'
    status, peak = _peak(lambda: client.put("/api/v1/sites", data=wide_site, content_type="application/json",
                                            headers=ADMIN))
    assert status == 400
    assert peak < PEAK_LIMIT, f"{peak / 2**20:.0f} MiB for {len(wide_site)} bytes"
