"""Audit: /readyz and /metrics compared a bearer with ADMIN_TOKEN without the failed-attempt limit.

The API and the sign-in form answer 429 after AUTH_FAILURES_PER_MINUTE failures from one address,
but /readyz (details) and /metrics (200 or 403) told a right guess from a wrong one without counting
or refusing any: an unlimited oracle for ADMIN_TOKEN. Low in practice (ADMIN_TOKEN must carry 100
bits), but the spec's limit is "every further attempt", whatever the route.
"""

from __future__ import annotations

import pytest

from .conftest import ADMIN_TOKEN

OUTSIDE = {"REMOTE_ADDR": "203.0.113.50"}  # not a METRICS_ALLOW network


@pytest.mark.parametrize("path", ["/readyz", "/metrics"])
def test_guesses_on_ops_routes_count_and_are_refused(app, client, path):
    limit = app.extensions["settings"].AUTH_FAILURES_PER_MINUTE
    for n in range(limit):
        client.get(path, headers={"Authorization": f"Bearer wrong-guess-{n}"}, environ_base=OUTSIDE)
    refused = client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, environ_base=OUTSIDE)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    # The API refuses the address too: one count, wherever the guesses came.
    assert client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                      environ_base=OUTSIDE).status_code == 429
    # Another address is not affected.
    assert client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                      environ_base={"REMOTE_ADDR": "203.0.113.51"}).status_code == 200


def test_right_token_on_ops_routes_is_not_a_failure(client):
    for _ in range(30):
        assert client.get("/readyz", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                          environ_base=OUTSIDE).get_json().get("durability") is not None
