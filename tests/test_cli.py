"""The admin CLI against a real Redis: output, exit codes, and a clear message without Redis."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from service.cli import main


@pytest.fixture
def run(redis_url):
    runner = CliRunner()

    def invoke(*args, url=redis_url):
        return runner.invoke(main, list(args), env={"REDIS_URL": url}, catch_exceptions=False)
    return invoke


def test_sites_lifecycle(run):
    """add, list, show, remove: each says what it did and exits 0; unknown sites exit 1."""
    added = run("sites", "add", "travinh", "travinh.gov.vn", "*.travinh.gov.vn")
    assert added.exit_code == 0 and "created travinh" in added.output
    assert run("sites", "list").output.split() == ["travinh"]
    shown = json.loads(run("sites", "show", "travinh").output)
    assert shown == {"site": "travinh", "domains": ["travinh.gov.vn", "*.travinh.gov.vn"],
                     "timezone": "Asia/Ho_Chi_Minh"}
    assert run("sites", "remove", "travinh").exit_code == 0
    assert run("sites", "show", "travinh").exit_code == 1
    assert run("sites", "remove", "travinh").exit_code == 1


def test_bad_values_exit_2(run):
    assert run("sites", "add", "Bad_Id", "a.vn").exit_code == 2
    assert run("sites", "add", "ok", "http://a.vn/").exit_code == 2
    assert run("sites", "add", "ok", "a.vn", "--timezone", "Mars/Base").exit_code == 2


def test_baseline_counters_history(run, client):
    """A baseline set twice shows once in the counters, with its audit trail."""
    run("sites", "add", "travinh", "travinh.gov.vn")
    for _ in range(2):
        assert run("baseline", "set", "travinh", "--visits", "3844451", "--source", "old counter").exit_code == 0
    numbers = json.loads(run("counters", "travinh").output)
    assert numbers["total"]["visits"] == 3844451 and numbers["online"] == 0
    trail = json.loads(run("baseline", "show", "travinh").output)
    assert trail["baseline"]["visits"] == 3844451 and len(trail["changes"]) == 2
    csv_out = run("history", "travinh", "--days", "3", "--csv").output.splitlines()
    assert csv_out[0] == "date,visits,pageviews,visitors" and len(csv_out) == 4


def test_unreachable_redis_exits_3_with_a_message(run):
    from service.redis_process import free_port

    result = run("sites", "list", url=f"redis://127.0.0.1:{free_port()}/0")
    assert result.exit_code == 3 and "unreachable" in result.output
