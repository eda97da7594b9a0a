"""Why a hit is not counted: verdicts by User-Agent, at the edges of the length cap."""

from __future__ import annotations

import pytest

from service.ingest import filters
from service.ingest.beacon import Beacon
from service.ingest.filters import MAX_USER_AGENT_CHARS, drop_reason
from service.model.hits import RequestFacts
from service.model.sites import Site

from .conftest import CHROME
from .helpers import add_site, counters, hit

SITE = Site("travinh", ("travinh.gov.vn",), "Asia/Ho_Chi_Minh")
BEACON = Beacon.from_fields("travinh", "https://travinh.gov.vn/tin-tuc/abc", None, None)


def padded(agent: str, length: int) -> str:
    """A browser agent grown to ``length`` characters with a harmless token (as some WebViews do)."""
    filler = " Zalo android/12100730 ZaloTheme/light ZaloLanguage/vi"
    while len(agent) < length:
        agent += filler
    return agent[:length]


@pytest.fixture
def matcher_calls(monkeypatch) -> list[str]:
    """The agents the crawler matcher was asked about (a spy that still answers)."""
    calls: list[str] = []
    real = filters.is_crawler

    def spy(agent: str) -> bool:
        calls.append(agent)
        return real(agent)

    monkeypatch.setattr(filters, "is_crawler", spy)
    return calls


@pytest.mark.parametrize(("agent", "reason", "matched"), [
    ("", "no_user_agent", False),
    ("   ", "no_user_agent", False),
    ("a", None, True),
    ("b0t", "bot", True),
    (CHROME, None, True),
    (padded(CHROME, MAX_USER_AGENT_CHARS), None, True),
    ("  " + padded(CHROME, MAX_USER_AGENT_CHARS) + "  ", None, True),     # the cap counts the stripped agent
    (padded(CHROME, MAX_USER_AGENT_CHARS + 1), "user_agent_too_long", False),
    (padded(CHROME, MAX_USER_AGENT_CHARS - 12) + " MyCrawler/1", "bot", True),
    (padded(CHROME + " cubot", 300), None, True),                         # an excluded phone name, not a bot
    ("x" * MAX_USER_AGENT_CHARS, None, True),
    ("crawl" * (MAX_USER_AGENT_CHARS // 5 + 1), "user_agent_too_long", False),
    (padded(CHROME, 10 * 1024), "user_agent_too_long", False),
])
def test_user_agent_verdicts(matcher_calls, agent, reason, matched):
    """Each agent gets its reason; the patterns run only on agents within the cap."""
    assert drop_reason(BEACON, SITE, RequestFacts.from_environ({"HTTP_USER_AGENT": agent})) == reason
    assert bool(matcher_calls) is matched


def test_ten_kib_agent_is_answered_too_long_without_the_matcher(client, matcher_calls):
    """A 10 KiB User-Agent answers 204 with X-Not-Counted: user_agent_too_long, never matched, not counted."""
    add_site(client)
    response = hit(client, agent=padded(CHROME, 10 * 1024))
    assert response.status_code == 204
    assert response.headers["X-Not-Counted"] == "user_agent_too_long"
    assert matcher_calls == []
    assert counters(client)["total"]["pageviews"] == 0
