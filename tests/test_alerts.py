"""The alerts fire when they should: promtool and amtool on the shipped files, and the labelled
counters a first increase() needs, exported at 0 by a freshly started gunicorn."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from service.ops import metrics
from service.ops.redis_process import free_port

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def run(*command: str) -> str:
    """Run a Prometheus tool from deploy/; fail with its output unless it succeeds."""
    result = subprocess.run(command, cwd=DEPLOY, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_promtool_accepts_the_config_and_the_rules():
    """`promtool check config` (which also checks alerts.yml) and `check rules` succeed."""
    assert "SUCCESS" in run("promtool", "check", "config", "prometheus.yml")
    assert "SUCCESS" in run("promtool", "check", "rules", "alerts.yml")


def test_every_alert_fires_in_its_promtool_unit_test():
    """`promtool test rules` passes, and every alert of alerts.yml is expected to fire in some test."""
    import yaml

    assert "SUCCESS" in run("promtool", "test", "rules", "alerts.test.yml")
    alerts = {rule["alert"] for group in yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]
              for rule in group["rules"]}
    firing = {case["alertname"] for test in yaml.safe_load((DEPLOY / "alerts.test.yml").read_text())["tests"]
              for case in test["alert_rule_test"] if case.get("exp_alerts")}
    assert firing == alerts, alerts - firing


def test_alertmanager_config_is_valid_and_prometheus_sends_to_it():
    """amtool accepts alertmanager.yml, and prometheus.yml points its alerting at that Alertmanager."""
    import yaml

    assert "SUCCESS" in run("amtool", "check-config", "alertmanager.yml")
    alerting = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["alerting"]
    targets = [t for am in alerting["alertmanagers"] for config in am["static_configs"] for t in config["targets"]]
    assert targets == ["alertmanager:9093"]


def test_labelled_counters_are_exported_at_zero_from_start(redis_url, tmp_path, gunicorn_processes):
    """Right after gunicorn starts, before any hit, /metrics has every outcome, Redis operation and
    cache result at 0: a first loss of 50 hits is then an increase of 50, not a new series."""
    port = free_port()
    gunicorn_processes(redis_url, tmp_path, port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    expected = {"va_hits_total": [{"outcome": o} for o in metrics.OUTCOMES],
                "va_redis_errors_total": [{"operation": o, "kind": k} for o in metrics.REDIS_OPERATIONS
                                          for k in metrics.REDIS_ERROR_KINDS],
                "va_counters_cache_total": [{"result": r} for r in metrics.CACHE_RESULTS]}
    for name, label_sets in expected.items():
        found = samples.get(name, {})
        assert found == {tuple(sorted(labels.items())): 0.0 for labels in label_sets}, (name, found)
