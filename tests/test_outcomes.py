"""The Outcome enum is the one list of how a hit ends: metrics, OpenAPI and the docs follow it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from service.ops import metrics
from service.model.hits import Outcome

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = json.loads((ROOT / "service" / "openapi.json").read_text())
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
COUNTING = (ROOT / "docs" / "counting.md").read_text()


def test_metric_help_and_label_values_name_every_outcome():
    help_text = metrics.HITS._documentation
    for outcome in Outcome:
        if outcome is Outcome.QUEUED:
            assert outcome not in metrics.OUTCOMES  # a queued hit is counted by its final outcome
        else:
            assert outcome in metrics.OUTCOMES and f"{outcome} (" in help_text, outcome


def test_openapi_x_not_counted_lists_exactly_the_reported_outcomes():
    reported = {str(o) for o in Outcome if o.reported}
    for path, method in (("/api/v1/hit", "post"), ("/api/v1/hit.gif", "get")):
        responses = OPENAPI["paths"][path][method]["responses"].values()
        header = next(r["headers"]["X-Not-Counted"] for r in responses if "X-Not-Counted" in r.get("headers", {}))
        assert set(header["schema"]["enum"]) == reported, path


def test_docs_list_every_outcome_in_metrics_and_the_reported_ones_in_counting_rules():
    """docs/operations.md lists every va_hits_total outcome, and docs/counting.md names the reported ones."""
    metrics_list = re.search(r"`va_hits_total\{outcome\}` \(([^)]*)\)", OPERATIONS)[1]
    assert {o.strip() for o in metrics_list.replace("\n", " ").split(",")} == set(metrics.OUTCOMES)
    start = COUNTING.index("Not counted, yet answered `204`")
    rules = COUNTING[start:COUNTING.index("\n## ", start)]
    for outcome in Outcome:
        if outcome.reported:
            assert f"`{outcome}`" in rules, outcome
