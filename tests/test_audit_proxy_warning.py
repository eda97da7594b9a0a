"""Audit: behind a proxy with TRUSTED_PROXIES left at 0 (a careless operator's own nginx), every reader
shares the proxy's address, so ten wrong bearer tokens a minute from anyone on the internet refuse
the operator, every site token and every dashboard sign-in, service-wide; nothing said so. The
service now warns once (no address in the line) when a proxy on its own network forwards requests.
"""

from __future__ import annotations

import logging

import pytest

from service import create_app

from .conftest import ADMIN_TOKEN


@pytest.fixture
def caplog(caplog):
    """The service's own logger (it does not propagate to the root)."""
    logger = logging.getLogger("service")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING, logger="service")
    yield caplog
    logger.removeHandler(caplog.handler)


def test_one_stranger_locks_everyone_out_behind_an_untrusted_proxy_and_the_service_warns(app_config, caplog):
    app = create_app({**app_config, "TRUSTED_PROXIES": 0})
    client = app.test_client()
    behind = {"REMOTE_ADDR": "172.18.0.5"}  # the proxy container
    with caplog.at_level(logging.WARNING):
        for n in range(app.extensions["settings"].AUTH_FAILURES_PER_MINUTE):
            client.get("/api/v1/tokens", headers={"Authorization": f"Bearer guess-{n}",
                                                   "X-Forwarded-For": "203.0.113.66"}, environ_base=behind)
        operator = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                                          "X-Forwarded-For": "198.51.100.1"}, environ_base=behind)
    assert operator.status_code == 429  # the documented consequence, now told
    warnings = [r for r in caplog.records if "TRUSTED_PROXIES" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "203.0.113.66" not in warnings[0].getMessage() and "172.18.0.5" not in warnings[0].getMessage()


def test_no_warning_for_a_public_client_sending_the_header_itself(app_config, caplog):
    app = create_app({**app_config, "TRUSTED_PROXIES": 0})
    with caplog.at_level(logging.WARNING):
        app.test_client().get("/healthz", headers={"X-Forwarded-For": "1.2.3.4"},
                              environ_base={"REMOTE_ADDR": "8.8.8.8"})
    assert not [r for r in caplog.records if "TRUSTED_PROXIES" in r.getMessage()]
