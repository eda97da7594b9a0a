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
                     "timezone": "Asia/Ho_Chi_Minh", "page_params": [], "group": None}
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
    from service.ops.redis_process import free_port

    result = run("sites", "list", url=f"redis://127.0.0.1:{free_port()}/0")
    assert result.exit_code == 3 and "unreachable" in result.output


def test_version(run):
    """--version names the command and the installed version."""
    from importlib.metadata import version

    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"visitor-analytics, version {version('visitor-analytics')}"


def test_baseline_set_without_a_number_refuses(run):
    """`baseline set SITE` alone exits 2 and leaves the imported totals alone; --zero resets on purpose."""
    run("sites", "add", "travinh", "travinh.gov.vn")
    assert run("baseline", "set", "travinh", "--visits", "3844451").exit_code == 0
    refused = run("baseline", "set", "travinh")
    assert refused.exit_code == 2 and "--zero" in refused.output
    assert json.loads(run("baseline", "show", "travinh").output)["baseline"]["visits"] == 3844451
    assert run("baseline", "set", "travinh", "--zero", "--visits", "5").exit_code == 2
    assert run("baseline", "set", "travinh", "--zero").exit_code == 0
    assert json.loads(run("baseline", "show", "travinh").output)["baseline"]["visits"] == 0


EXIT_CODES = [
    # (what, arguments, extra environment, exit code)
    ("done", ["sites", "list"], {}, 0),
    ("version", ["--version"], {}, 0),
    ("unknown site: show", ["sites", "show", "nowhere"], {}, 1),
    ("unknown site: remove", ["sites", "remove", "nowhere"], {}, 1),
    ("unknown site: baseline", ["baseline", "set", "nowhere", "--visits", "1"], {}, 1),
    ("unknown site: counters", ["counters", "nowhere"], {}, 1),
    ("bad site id", ["sites", "add", "Bad_Id", "a.vn"], {}, 2),
    ("unknown command", ["frobnicate"], {}, 2),
    ("baseline without a number", ["baseline", "set", "travinh"], {}, 2),
    ("negative number", ["baseline", "set", "travinh", "--visits", "-1"], {}, 2),
    ("bad setting", ["sites", "list"], {"ONLINE_WINDOW_SECONDS": "0"}, 2),
    ("placeholder admin token", ["sites", "list"], {"ADMIN_TOKEN": "change-me-to-a-long-random-string"}, 2),
    ("short admin token", ["sites", "list"], {"ADMIN_TOKEN": "short"}, 2),
    ("Redis unreachable", ["sites", "list"], {"REDIS_URL": "redis://127.0.0.1:9/0"}, 3),
]


@pytest.mark.parametrize(("what", "args", "env", "code"), EXIT_CODES, ids=[row[0] for row in EXIT_CODES])
def test_exit_codes(redis_url, what, args, env, code):
    """Each command exits with the code docs/cli.md's table gives: 0 done, 1 unknown site,
    2 bad usage or value (settings too), 3 Redis unreachable."""
    runner = CliRunner()
    runner.invoke(main, ["sites", "add", "travinh", "travinh.gov.vn"], env={"REDIS_URL": redis_url})
    result = runner.invoke(main, args, env={"REDIS_URL": redis_url, **env}, catch_exceptions=False)
    assert result.exit_code == code, result.output
    if code:
        assert result.output.strip(), "an error says what went wrong"


def test_tokens_lifecycle(run, client):
    """`tokens create` prints a token that opens its site in the API, `list` hides it, `revoke` ends it."""
    import json

    assert run("sites", "add", "travinh", "travinh.gov.vn").exit_code == 0
    made = run("tokens", "create", "--site", "travinh", "--label", "Sở Nội vụ", "--days", "30")
    assert made.exit_code == 0, made.output
    token = json.loads(made.output)
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/api/v1/sites/travinh", headers=headers).status_code == 200
    listed = run("tokens", "list")
    assert token["id"] in listed.output and token["token"] not in listed.output and "Sở Nội vụ" in listed.output
    assert run("tokens", "create", "--site", "nosite").exit_code == 1
    assert run("tokens", "revoke", token["id"]).exit_code == 0
    assert run("tokens", "revoke", token["id"]).exit_code == 1
    assert client.get("/api/v1/sites/travinh", headers=headers).status_code == 401
