"""The shipped Prometheus config, alert rules and Grafana dashboard only name metrics the service exports."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from service import create_app
from service.ops.redis_process import RedisProcess

from .conftest import ADMIN_TOKEN
from .helpers import ADMIN, add_site, hit

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
PROMETHEUS = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
ALERTS = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
DASHBOARD = json.loads((DEPLOY / "grafana-dashboard.json").read_text())

SERVER_LABELS = {"job", "instance"}
"""Labels Prometheus itself attaches to every scraped series."""
EXTERNAL = {"up": set(), "probe_success": set()}
"""Series Prometheus and blackbox_exporter make (target health, the /readyz probe), with their own labels."""
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                "offset", "inf", "nan"}
REQUIRED_IN_ALERTS = {"up", "probe_success", "va_redis_errors_total", "va_buffer_hits", "va_hits_total"}
REQUIRED_IN_DASHBOARD = {"va_hits_total", "va_request_duration_seconds_bucket", "va_redis_errors_total",
                         "va_buffer_hits", "va_counters_cache_total"}


def alert_rules() -> list[dict]:
    return [rule for group in ALERTS["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every templating query of the dashboard."""
    found = [(f"{panel['title']}/{target['refId']}", target["expr"])
             for panel in DASHBOARD["panels"] for target in panel["targets"]]
    for variable in DASHBOARD["templating"]["list"]:
        if variable["type"] == "query":
            # label_values(metric{matchers}, label): the first argument is a selector.
            selector = re.fullmatch(r"label_values\((.*),\s*\w+\)", variable["definition"]).group(1)
            found.append((f"variable {variable['name']}", selector))
    return found


QUERIES = ([(f"alerts.yml: {rule['alert']}", rule["expr"]) for rule in alert_rules()] +
           [(f"dashboard: {where}", expr) for where, expr in dashboard_queries()])


def without_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (functions, keywords, labels and durations left out)."""
    bare = re.sub(r"\{[^}]*\}", " ", without_strings(expr))
    bare = re.sub(r"\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
        if bare[match.end():].lstrip().startswith("(") or match.group().lower() in PROMQL_WORDS:
            continue  # a function or aggregation call, or a keyword
        names.add(match.group())
    return names


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Every ``metric{label op "value", ...}`` in an expression, as (metric, [(label, op, value)])."""
    found = []
    for match in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}", expr):
        matchers = re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', match.group(2))
        found.append((match.group(1), matchers))
    return found


def grouping_labels(expr: str) -> set[str]:
    """Labels named in ``by (...)``/``without (...)``/``on (...)`` clauses."""
    clauses = re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", without_strings(expr))
    return {label.strip() for clause in clauses for label in clause.split(",") if label.strip()}


def scrape_after_outage(directory: str) -> str:
    """Drive a fresh app through hits, cached and stale counter reads and a Redis outage that drops hits;
    answer its /metrics text."""
    directory = Path(directory)
    server = RedisProcess(directory / "redis", appendonly=False).start()
    base = {"REDIS_URL": server.url, "ADMIN_TOKEN": ADMIN_TOKEN, "SITE_CACHE_SECONDS": 0, "FLUSH_INTERVAL_MS": 0,
            "REDIS_TIMEOUT_SECONDS": 0.1, "MAX_BUFFERED_HITS": 100, "JOURNAL_DIR": str(directory / "journal")}
    cached = create_app({**base, "COUNTERS_CACHE_SECONDS": 60}).test_client()
    live = create_app({**base, "COUNTERS_CACHE_SECONDS": 0})
    client = live.test_client()
    try:
        add_site(client)
        assert hit(client).status_code == 204
        assert hit(client, agent="Googlebot/2.1").headers["X-Not-Counted"] == "bot"
        for _ in range(2):  # a miss, then a cache hit
            assert cached.get("/api/v1/sites/travinh/counters").status_code == 200
        assert client.get("/api/v1/sites/travinh/counters").status_code == 200
        server.stop(signal.SIGKILL)
        assert client.get("/api/v1/sites/travinh/counters").get_json()["stale"] is True
        assert client.get("/api/v1/sites", headers=ADMIN).status_code == 503
        answers = {hit(client, ip=f"10.0.0.{n % 250}").headers.get("X-Not-Counted") for n in range(102)}
        assert "dropped" in answers, answers
        return cached.get("/metrics").get_data(as_text=True)
    finally:
        live.extensions["recorder"].close(timeout_seconds=0.5)
        server.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, list[dict]]:
    """{sample name: [label sets]} of /metrics after scrape_after_outage, families without samples included.

    Run in a child process: the metrics are process-wide, and the hits this drops must not show
    in the numbers other tests read.
    """
    directory = tmp_path_factory.mktemp("monitoring")
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    child = subprocess.run(
        [sys.executable, "-c", "import sys; from tests.test_deploy_monitoring import scrape_after_outage; "
                               "sys.stdout.write(scrape_after_outage(sys.argv[1]))", str(directory)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    series: dict[str, list[dict]] = {}
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
                "gauge": ("",), "summary": ("", "_count", "_sum", "_created")}
    for family in text_string_to_metric_families(child.stdout):
        for suffix in suffixes.get(family.type, ("",)):
            series.setdefault(family.name + suffix, [])
        for sample in family.samples:
            series.setdefault(sample.name, []).append(sample.labels)
    return series


def test_prometheus_scrapes_metrics_and_probes_readiness():
    """prometheus.yml scrapes /metrics, probes /readyz and loads alerts.yml from beside it."""
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    assert jobs["visitor-analytics"].get("metrics_path", "/metrics") == "/metrics"
    probe = jobs["visitor-analytics-readyz"]
    targets = [t for config in probe["static_configs"] for t in config["targets"]]
    assert targets and all(t.endswith("/readyz") for t in targets)
    assert PROMETHEUS["rule_files"] == ["alerts.yml"] and (DEPLOY / "alerts.yml").is_file()


def test_alert_rules_are_complete():
    """Each alert has a unique name, an expression, a duration, a severity and a summary."""
    rules = alert_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert rule["expr"].strip() and re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_alerts_cover_the_failure_modes():
    """Target down, readiness, Redis errors, buffer filling and dropped hits each have an alert."""
    used = set().union(*(metric_names(rule["expr"]) for rule in alert_rules()))
    assert REQUIRED_IN_ALERTS <= used, REQUIRED_IN_ALERTS - used
    assert any(("va_hits_total", ("outcome", "=", "dropped")) in
               {(metric, m) for metric, matchers in selectors(rule["expr"]) for m in matchers}
               for rule in alert_rules())


def test_dashboard_shows_the_key_series():
    """The dashboard charts hits by outcome, p50/p99 latency by route, Redis errors, buffer and cache ratio."""
    used = set().union(*(metric_names(expr) for _, expr in dashboard_queries()))
    assert REQUIRED_IN_DASHBOARD <= used, REQUIRED_IN_DASHBOARD - used
    exprs = " ".join(expr for _, expr in dashboard_queries())
    for quantile in ("0.5", "0.99"):
        assert re.search(rf"histogram_quantile\({quantile}, sum by \(le, route\) \(rate\("
                         r"va_request_duration_seconds_bucket", exprs), quantile
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(set(ids)) == len(ids)
    assert any(v["type"] == "datasource" and v["name"] == "datasource" for v in DASHBOARD["templating"]["list"])


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=[q[0] for q in QUERIES])
def test_every_referenced_metric_is_exported(exported, where, expr):
    """Each metric an alert or panel reads is one the service's /metrics exports (or Prometheus makes)."""
    names = metric_names(expr)
    assert names, f"no metric found in {expr!r}"
    unknown = {name for name in names if name not in exported and name not in EXTERNAL}
    assert not unknown, f"{where}: not exported: {sorted(unknown)}"


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=[q[0] for q in QUERIES])
def test_every_label_and_value_matched_exists(exported, where, expr):
    """Label names in selectors and groupings exist on the metric, and every exact value matched is exported."""
    jobs = {job["job_name"] for job in PROMETHEUS["scrape_configs"]}
    names = metric_names(expr)
    for metric, matchers in selectors(expr):
        label_sets = exported.get(metric, [])
        known = SERVER_LABELS | EXTERNAL.get(metric, set()) | {label for labels in label_sets for label in labels}
        for label, op, value in matchers:
            assert label in known, f"{where}: {metric} has no label {label!r} (has {sorted(known)})"
            if op != "=" or "$" in value:
                continue  # regular expressions and dashboard variables match sets of values
            if label == "job":
                assert value in jobs, f"{where}: no scrape job {value!r}"
            elif label != "instance":
                values = {labels.get(label) for labels in label_sets}
                assert value in values, f"{where}: {metric} never has {label}={value!r} (has {sorted(values)})"
    labels_of_expr = SERVER_LABELS | {"le"} | {label for name in names for labels in exported.get(name, [])
                                               for label in labels}
    missing = grouping_labels(expr) - labels_of_expr
    assert not missing, f"{where}: grouped by labels no metric of it has: {sorted(missing)}"


def test_metric_name_extraction_reads_promql():
    """The PromQL reader finds metric names and skips functions, labels, durations, numbers and variables."""
    expr = ('histogram_quantile(0.99, sum by (le, route) (rate(va_x_bucket{job=~"$job", a="b c"}[$__rate_interval])))'
            ' / ignoring(route) sum without (pid) (va_y) > 1e3 and on (instance) up == 0')
    assert metric_names(expr) == {"va_x_bucket", "va_y", "up"}
    assert selectors(expr) == [("va_x_bucket", [("job", "=~", "$job"), ("a", "=", "b c")])]
    assert grouping_labels(expr) == {"le", "route", "pid", "instance"}
