"""A province on one service: sites imported in bulk, the sites list paged, searched and sorted."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from service import create_app

from .helpers import ADMIN, hit
from .test_dashboard import Clock

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)
HEADER = "site,domains,timezone,group\n"


@pytest.fixture
def app(app_config):
    return create_app({**app_config, "CLOCK": Clock(NOW)})


def province_csv(count: int, start: int = 0, zone: str = "Asia/Ho_Chi_Minh") -> str:
    """``count`` communes of the province, two domains each, in groups of a hundred."""
    return HEADER + "".join(f"xa-{n:04d},xa{n}.travinh.gov.vn www.xa{n}.travinh.gov.vn,{zone},huyen-{n // 100}\n"
                            for n in range(start, start + count))


def import_csv(client, text: str):
    answer = client.put("/api/v1/sites", data=text.encode(), content_type="text/csv", headers=ADMIN)
    assert answer.status_code == 200, answer.get_data()[:300]
    return answer.get_json()


def all_pages(client, **query) -> list[dict]:
    rows, cursor = [], ""
    while True:
        answer = client.get("/api/v1/sites", query_string={**query, "cursor": cursor}, headers=ADMIN)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        rows += body["sites"]
        if body["next"] is None:
            return rows
        cursor = body["next"]


BAD_ROWS = [
    ("Bad_Id,a.vn,Asia/Ho_Chi_Minh,\n", "bad_request"),
    ("xa-bad1,,Asia/Ho_Chi_Minh,\n", "bad_request"),
    ("xa-bad2,a.vn,Mars/Base,\n", "bad_request"),
    ("xa-bad3,not a host!,Asia/Ho_Chi_Minh,\n", "bad_request"),
    ("xa-bad4,a.vn,Asia/Ho_Chi_Minh,Group_X\n", "bad_request"),
    ("xa-0005,a.vn,Asia/Ho_Chi_Minh,,extra\n", "bad_row"),
    ("xa-0007,again.vn,Asia/Ho_Chi_Minh,\n", "duplicate_site"),
]


def test_bulk_import_of_a_thousand_rows_with_bad_ones_twice(client, redis_client):
    """A thousand good rows apply and each bad one is reported with its row and changes nothing;
    the same file again changes nothing ("unchanged" for every good row)."""
    good = province_csv(1000).splitlines(keepends=True)
    lines = good[:501] + [bad for bad, _ in BAD_ROWS] + good[501:]
    text = "".join(lines)
    first = import_csv(client, text)
    assert (first["created"], first["updated"], first["unchanged"]) == (1000, 0, 0)
    assert [(e["row"], e["error"]["code"]) for e in first["errors"]] == [
        (500 + n, code) for n, (_, code) in enumerate(BAD_ROWS, 1)]
    assert first["errors"][0]["site"] == "Bad_Id" and first["errors"][-1]["site"] == "xa-0007"
    for key in redis_client.scan_iter("va:{xa-bad*"):
        pytest.fail(f"a bad row wrote {key!r}")
    assert client.get("/api/v1/sites/xa-0007", headers=ADMIN).get_json()["domains"] == [
        "xa7.travinh.gov.vn", "www.xa7.travinh.gov.vn"]
    assert client.get("/api/v1/sites/xa-0005", headers=ADMIN).get_json()["group"] == "huyen-0"
    second = import_csv(client, text)
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 1000)
    assert second["errors"] == first["errors"]
    changed = import_csv(client, HEADER + "xa-0003,new.travinh.gov.vn,,huyen-9\n")
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 0)
    listed = client.get("/api/v1/sites?q=xa-0003", headers=ADMIN).get_json()["sites"]
    assert listed == [{"site": "xa-0003", "domains": ["new.travinh.gov.vn"], "timezone": "Asia/Ho_Chi_Minh",
                       "group": "huyen-9", "online": 0, "today": {"visits": 0, "pageviews": 0, "visitors": 0},
                       "total": {"visits": 0, "pageviews": 0, "visitors": 0}}]


def test_bulk_import_takes_json_and_keeps_a_sites_page_params(client):
    """JSON rows import like CSV ones; a row, which has no page_params, leaves a site's own as they were."""
    assert client.put("/api/v1/sites/xa-0001", json={"domains": ["a.vn"], "page_params": ["id"]},
                      headers=ADMIN).status_code == 201
    body = {"sites": [{"site": "xa-0001", "domains": ["a.vn", "b.vn"], "timezone": "Asia/Bangkok", "group": None},
                      {"site": "xa-0002", "domains": "c.vn d.vn"}, {"site": "xa-0003"}, 5]}
    answer = client.put("/api/v1/sites", json=body, headers=ADMIN).get_json()
    assert (answer["created"], answer["updated"], answer["unchanged"]) == (1, 1, 0)
    assert [(e["row"], e["site"]) for e in answer["errors"]] == [(3, "xa-0003"), (4, None)]
    site = client.get("/api/v1/sites/xa-0001", headers=ADMIN).get_json()
    assert site["page_params"] == ["id"] and site["domains"] == ["a.vn", "b.vn"] and site["timezone"] == "Asia/Bangkok"


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"path,views\n/a,1\n", "text/csv", 400),
    (b"\xff\xfe", "text/csv", 400),
    (b'{"sites": [', "application/json", 400),
    (b"<sites/>", "application/xml", 415),
])
def test_bulk_import_of_what_is_not_a_sites_file_is_a_400(client, body, content_type, status):
    """A file that is not a sites CSV or JSON answers 400 (415 for another type) and registers nothing."""
    answer = client.put("/api/v1/sites", data=body, content_type=content_type, headers=ADMIN)
    assert answer.status_code == status
    assert client.get("/api/v1/sites", headers=ADMIN).get_json()["count"] == 0


def test_rows_past_ten_thousand_are_refused_as_one_error(client, monkeypatch):
    """Past MAX_ROWS the import stops reading and says so once; the rows before it apply."""
    from service.model import site_rows
    monkeypatch.setattr(site_rows, "MAX_ROWS", 20)
    answer = import_csv(client, province_csv(25))
    assert answer["created"] == 20
    assert [(e["row"], e["error"]["code"]) for e in answer["errors"]] == [(21, "too_many_rows")]


def test_paging_through_a_thousand_sites_while_sites_come_and_go(app, client):
    """Every site present throughout shows exactly once across the pages, whatever is added or deleted
    between them, in id order; the pages are no longer than the limit."""
    import_csv(client, province_csv(1000))
    seen, cursor, pages = [], "", 0
    while True:
        body = client.get("/api/v1/sites", query_string={"limit": 97, "cursor": cursor}, headers=ADMIN).get_json()
        assert len(body["sites"]) <= 97
        seen += [row["site"] for row in body["sites"]]
        pages += 1
        # Between pages: delete a site ahead and one behind, add one ahead and one behind.
        for gone in (f"xa-{(pages * 89) % 1000:04d}", f"xa-{(pages * 89 + 500) % 1000:04d}"):
            client.delete(f"/api/v1/sites/{gone}", headers=ADMIN)
        import_csv(client, HEADER + f"xa-{pages:04d}-late,late{pages}.vn,,\nxa-0000-{pages:02d},early{pages}.vn,,\n")
        if body["next"] is None:
            break
        cursor = body["next"]
    assert pages == 11
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    touched = {f"xa-{(p * 89) % 1000:04d}" for p in range(1, 12)} | {f"xa-{(p * 89 + 500) % 1000:04d}"
                                                                       for p in range(1, 12)}
    throughout = {f"xa-{n:04d}" for n in range(1000)} - touched
    assert throughout <= set(seen)


def test_search_group_and_sorts(app, client):
    """q matches a substring of an id or a domain, group keeps its members, and -today, -total and -online
    order by those numbers (most first, then id), paged with a cursor."""
    import_csv(client, province_csv(30))
    for n, reads in ((3, 4), (17, 2), (29, 6)):
        for r in range(reads):
            hit(client, site=f"xa-{n:04d}", url=f"https://xa{n}.travinh.gov.vn/tin/{r}", ip=f"203.0.113.{r + 1}")
    assert [r["site"] for r in all_pages(client, q="XA17.travinh")] == ["xa-0017"]
    assert [r["site"] for r in all_pages(client, q="0002")] == ["xa-0002"]
    assert len(all_pages(client, q="www.xa2")) == 11  # xa2, xa20...xa29
    import_csv(client, HEADER + "xa-0029,xa29.travinh.gov.vn,,huyen-9\n")
    assert [r["site"] for r in all_pages(client, group="huyen-9")] == ["xa-0029"]
    ranked = all_pages(client, sort="-today", limit=2)
    assert [r["site"] for r in ranked[:4]] == ["xa-0029", "xa-0003", "xa-0017", "xa-0000"]
    assert [r["today"]["visits"] for r in ranked[:3]] == [6, 4, 2] and len(ranked) == 30
    assert [r["site"] for r in all_pages(client, sort="-total", limit=7)][:3] == ["xa-0029", "xa-0003", "xa-0017"]
    online = all_pages(client, sort="-online", limit=5)
    assert [r["online"] for r in online[:3]] == [6, 4, 2] and len({r["site"] for r in online}) == 30
    body = client.get("/api/v1/sites?q=xa-000&limit=3", headers=ADMIN).get_json()
    assert body["count"] == 10 and len(body["sites"]) == 3 and body["next"]


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "sort=today", "group=Bad_Group",
                                   "cursor=nonsense", "sort=-today&cursor=WyJzaXRlIiwieGEtMDAwMSJd"])
def test_bad_list_arguments_are_a_400(client, query):
    """A limit outside 1..500, an unknown sort, a malformed group or a cursor this list did not give is a 400."""
    answer = client.get(f"/api/v1/sites?{query}", headers=ADMIN)
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "bad_request"


def test_a_site_token_lists_only_its_sites_whatever_it_asks(client):
    """A site token's list, searched, grouped or sorted, holds its sites and none other, and counts only them."""
    import_csv(client, province_csv(40))
    made = client.post("/api/v1/tokens", json={"label": "Huyện", "sites": ["xa-0003", "xa-0031"]}, headers=ADMIN)
    token = {"Authorization": f"Bearer {made.get_json()['token']}"}
    for query in ("", "q=xa", "sort=-today", "group=huyen-0", "limit=1"):
        body = client.get(f"/api/v1/sites?{query}", headers=token).get_json()
        assert {r["site"] for r in body["sites"]} <= {"xa-0003", "xa-0031"} and body["count"] in (1, 2), query
    assert [r["site"] for r in all_pages_with(client, token)] == ["xa-0003", "xa-0031"]


def all_pages_with(client, headers) -> list[dict]:
    rows, cursor = [], ""
    while True:
        body = client.get("/api/v1/sites", query_string={"limit": 1, "cursor": cursor}, headers=headers).get_json()
        rows += body["sites"]
        if body["next"] is None:
            return rows
        cursor = body["next"]


def test_cli_imports_and_exports_the_same_sites(redis_url, tmp_path):
    """`sites import FILE` applies a CSV like the API (twice: unchanged), and `sites export` prints it back."""
    from click.testing import CliRunner

    from service.cli import main

    path = tmp_path / "sites.csv"
    path.write_text(province_csv(12) + "Bad,x.vn,,\n", encoding="utf-8")
    runner = CliRunner()
    env = {"REDIS_URL": redis_url}
    first = runner.invoke(main, ["sites", "import", str(path)], env=env)
    assert first.exit_code == 1, first.output
    report = json.loads(first.output)
    assert report["created"] == 12 and [e["row"] for e in report["errors"]] == [13]
    again = json.loads(runner.invoke(main, ["sites", "import", str(path)], env=env).output)
    assert again["unchanged"] == 12
    exported = runner.invoke(main, ["sites", "export"], env=env)
    assert exported.exit_code == 0
    assert exported.output == province_csv(12)


def test_one_reader_of_two_member_sites_is_one_group_visitor(client):
    """A reader of two member portals on one day is one visitor and one online of the group, with two
    visits; a reader of a site outside the group is not in its numbers."""
    assert client.put("/api/v1/groups/travinh", json={"timezone": "Asia/Ho_Chi_Minh", "label": "Tỉnh Trà Vinh"},
                      headers=ADMIN).status_code == 201
    import_csv(client, HEADER + "tinh,travinh.gov.vn,,travinh\nso-yte,soyte.travinh.gov.vn,,travinh\n"
                                "other,other.gov.vn,,\n")
    assert hit(client, site="tinh", url="https://travinh.gov.vn/a").status_code == 204
    assert hit(client, site="so-yte", url="https://soyte.travinh.gov.vn/b").status_code == 204
    assert hit(client, site="so-yte", url="https://soyte.travinh.gov.vn/c").status_code == 204
    assert hit(client, site="other", url="https://other.gov.vn/", ip="198.51.100.9").status_code == 204
    answer = client.get("/api/v1/groups/travinh/counters")
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    body = answer.get_json()
    assert (body["group"], body["sites"], body["timezone"]) == ("travinh", 2, "Asia/Ho_Chi_Minh")
    assert body["today"] == {"visits": 2, "pageviews": 3, "visitors": 1}
    assert body["online"] == 1
    assert body["week"]["visitors"] == 1 and body["total"] == {"visits": 2, "pageviews": 3, "visitors": 1}
    site_numbers = [client.get(f"/api/v1/sites/{s}/counters").get_json()["today"]["visitors"] for s in ("tinh", "so-yte")]
    assert site_numbers == [1, 1]  # each site still counts the reader as its own visitor
    assert hit(client, site="tinh", url="https://travinh.gov.vn/d", ip="203.0.113.8").status_code == 204
    again = client.get("/api/v1/groups/travinh/counters").get_json()
    assert again["today"]["visitors"] == 2 and again["online"] == 2 and again["today"]["visits"] == 3


def test_group_readers_are_counted_after_the_script_cache_is_flushed(client, redis_client):
    """SCRIPT FLUSH (or a restarted node) between two hits: both the site's script and the group's are
    loaded again; the second reader counts once for the site and once for the group."""
    assert client.put("/api/v1/groups/travinh", json={"timezone": "Asia/Ho_Chi_Minh", "label": "Tỉnh Trà Vinh"},
                      headers=ADMIN).status_code == 201
    import_csv(client, HEADER + "tinh,travinh.gov.vn,,travinh\nso-yte,soyte.travinh.gov.vn,,travinh\n")
    assert hit(client, site="tinh", url="https://travinh.gov.vn/a").status_code == 204
    redis_client.script_flush()
    answer = hit(client, site="so-yte", url="https://soyte.travinh.gov.vn/b", ip="198.51.100.9")
    assert answer.status_code == 204 and answer.headers.get("X-Not-Counted") is None
    body = client.get("/api/v1/groups/travinh/counters").get_json()
    assert body["today"] == {"visits": 2, "pageviews": 2, "visitors": 2} and body["online"] == 2
    assert client.get("/api/v1/sites/so-yte/counters").get_json()["today"]["pageviews"] == 1


def test_group_settings_are_the_operators_and_an_unknown_group_is_404(client):
    """PUT a group is the operator's (201, then 200); a bad zone or field is 400; a group with neither
    settings nor members answers 404 to its counters."""
    assert client.put("/api/v1/groups/huyen-a", json={"timezone": "Asia/Ho_Chi_Minh"}).status_code == 401
    assert client.put("/api/v1/groups/huyen-a", json={"timezone": "Mars/Base"}, headers=ADMIN).status_code == 400
    assert client.put("/api/v1/groups/huyen-a", json={"colour": "red"}, headers=ADMIN).status_code == 400
    assert client.put("/api/v1/groups/Huyen_A", json={}, headers=ADMIN).status_code == 400
    first = client.put("/api/v1/groups/huyen-a", json={"label": "Huyện A"}, headers=ADMIN)
    assert first.status_code == 201 and first.get_json() == {"group": "huyen-a", "timezone": "Asia/Ho_Chi_Minh",
                                                             "label": "Huyện A", "sites": 0}
    assert client.put("/api/v1/groups/huyen-a", json={"label": "Huyện A"}, headers=ADMIN).status_code == 200
    assert client.get("/api/v1/groups/huyen-a/counters").get_json()["sites"] == 0
    missing = client.get("/api/v1/groups/nowhere/counters")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "unknown_group"
    assert client.get("/api/v1/groups/Bad_Id/counters").status_code == 404


def test_a_site_leaving_its_group_leaves_its_members(client):
    """Changing or deleting a site updates its group's member count."""
    import_csv(client, HEADER + "a1,a1.vn,,huyen\na2,a2.vn,,huyen\n")
    assert client.get("/api/v1/groups/huyen/counters").get_json()["sites"] == 2
    import_csv(client, HEADER + "a1,a1.vn,,\n")
    assert client.get("/api/v1/groups/huyen/counters").get_json()["sites"] == 1
    assert client.delete("/api/v1/sites/a2", headers=ADMIN).status_code == 204
    assert client.get("/api/v1/groups/huyen/counters").status_code == 404


def test_the_operator_screen_names_groups_by_their_label(client):
    """A group with a label shows it (with its id) in the operator screen's group totals."""
    from .helpers import ADMIN
    from .test_dashboard import sign_in

    client.put("/api/v1/groups/tinh-ben-tre", json={"timezone": "Asia/Ho_Chi_Minh", "label": "Tỉnh Bến Tre"},
               headers=ADMIN)
    client.put("/api/v1/sites/bentre", json={"domains": ["bentre.gov.vn"], "group": "tinh-ben-tre"}, headers=ADMIN)
    assert sign_in(client).status_code == 303
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Tỉnh Bến Tre" in page and "(tinh-ben-tre)" in page


def test_invented_group_ids_never_push_a_real_groups_answer_out_of_the_cache(app_config):
    """Anyone may poll a group's counters. 10,001 invented group ids (each a 404) must not evict the
    answer real pollers share: it stays cached for its lifetime, not read again from Redis."""
    client = create_app({**app_config, "COUNTERS_CACHE_SECONDS": 300}).test_client()
    assert client.put("/api/v1/groups/travinh", json={"timezone": "Asia/Ho_Chi_Minh", "label": "Tỉnh Trà Vinh"},
                      headers=ADMIN).status_code == 201
    import_csv(client, HEADER + "tinh,travinh.gov.vn,,travinh\n")
    assert client.get("/api/v1/groups/travinh/counters").get_json()["today"]["pageviews"] == 0
    assert hit(client, site="tinh", url="https://travinh.gov.vn/a").status_code == 204
    for n in range(10_001):
        assert client.get(f"/api/v1/groups/invented-{n}/counters").status_code == 404
    assert client.get("/api/v1/groups/travinh/counters").get_json()["today"]["pageviews"] == 0  # still the cached one
    assert client.put("/api/v1/groups/invented-7", json={"timezone": "Asia/Ho_Chi_Minh", "label": "Mới"},
                      headers=ADMIN).status_code == 201
    assert client.get("/api/v1/groups/invented-7/counters").status_code == 200  # made: known at once


def test_a_malformed_row_and_an_unclosed_quote_are_reported_not_swallowed(client):
    """A row that is not well-formed CSV is refused with its number; a quote never closed is said to
    have swallowed the rows after it (before, they vanished into one cell without a word)."""
    report = import_csv(client, HEADER + "bo-a,a.gov.vn,,\n\"bo-b\" ,b.gov.vn,,\nbo-c,c.gov.vn,,\n"
                                         "bo-d,\"d.gov.vn,,\nbo-e,e.gov.vn,,\n")
    assert report["created"] == 2
    errors = {e["row"]: e["error"] for e in report["errors"]}
    assert sorted(errors) == [2, 4] and all(e["code"] == "bad_row" for e in errors.values())
    assert "never closed" in errors[4]["message"] and "never closed" not in errors[2]["message"]
    ids = [row["site"] for row in client.get("/api/v1/sites", headers=ADMIN).get_json()["sites"]]
    assert ids == ["bo-a", "bo-c"]
