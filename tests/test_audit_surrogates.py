"""Audit: JSON's lone surrogate escapes ("\\ud800") on the operator and site-token routes are a 400, never a 500.

json.loads accepts them; redis-py cannot encode them (UnicodeEncodeError), so a token's, a group's or a
share's label made the route answer 500 (the share one is open to a site token).
"""

from __future__ import annotations

import json

import pytest

from .helpers import ADMIN, add_site

LONE = "\ud800"


@pytest.mark.parametrize("method, path, body", [
    ("post", "/api/v1/tokens", {"label": LONE, "sites": ["travinh"]}),
    ("put", "/api/v1/groups/grp", {"label": "Tỉnh " + LONE}),
    ("post", "/api/v1/sites/travinh/shares", {"label": LONE}),
])
def test_lone_surrogate_in_a_label_is_a_400(client, redis_client, method, path, body):
    add_site(client)
    keys_before = set(redis_client.keys())
    response = getattr(client, method)(path, data=json.dumps(body), content_type="application/json", headers=ADMIN)
    assert response.status_code == 400, response.get_data()
    assert response.get_json()["error"]["code"] == "bad_request"
    assert set(redis_client.keys()) == keys_before


def test_a_real_pair_still_works(client):
    add_site(client)
    made = client.post("/api/v1/tokens", data=json.dumps({"label": "Phòng \ud83d\ude00", "sites": ["travinh"]}),
                       content_type="application/json", headers=ADMIN)
    assert made.status_code == 201
    assert made.get_json()["label"] == "Phòng 😀"
