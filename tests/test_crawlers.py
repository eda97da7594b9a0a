"""The fast crawler matcher gives crawlerdetect's verdicts: over a fixture of 6,000+ agents, fuzzed text, and threads."""

from __future__ import annotations

import threading

import pytest
from crawlerdetect import CrawlerDetect
from crawlerdetect.providers.crawlers import data as CRAWLERS
from crawlerdetect.providers.exclusions import data as EXCLUSIONS
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest import crawlers

from .user_agents import fixture_agents

ACCEPTED_DIFFERENCES: dict[str, str] = {
    # "agent": "why the two verdicts may differ",
}
"""Agents on which the matcher and crawlerdetect disagree, each with its justification. None so far."""


@pytest.fixture(scope="module")
def matcher() -> crawlers.CrawlerMatcher:
    return crawlers.matcher()


@pytest.fixture(scope="module")
def reference():
    return CrawlerDetect().is_crawler


def test_agrees_with_crawlerdetect_on_the_fixture(matcher, reference):
    """Every fixture agent gets crawlerdetect's verdict, bar the listed and justified differences."""
    total, rows, disagreements = 0, [], {}
    for origin, agents in fixture_agents().items():
        crawlers_said = 0
        for agent in agents:
            expected = reference(agent)
            crawlers_said += expected
            if matcher.is_crawler(agent) != expected:
                disagreements[agent] = expected
        total += len(agents)
        rows.append(f"  {origin}: {len(agents):,} agents, {crawlers_said:,} crawlers per crawlerdetect")
    print(f"\ncrawler agreement: {total:,} agents, {total - len(disagreements):,} agree, "
          f"{len(disagreements)} differ ({len(set(disagreements) & set(ACCEPTED_DIFFERENCES))} accepted)\n"
          + "\n".join(rows))
    assert total >= 5000
    assert {a: v for a, v in disagreements.items() if a not in ACCEPTED_DIFFERENCES} == {}


def test_browsers_of_the_fixture_are_no_crawlers(matcher):
    """No generated browser or in-app WebView is called a crawler (the fixture is what it says)."""
    browsers = fixture_agents()["browsers (generated)"]
    assert len(browsers) >= 4000
    assert [a for a in browsers if matcher.is_crawler(a)] == []


def test_installed_patterns_take_the_fast_path(matcher):
    """The installed crawlerdetect's exclusions are rearranged and every crawler pattern is in Hyperscan."""
    assert matcher.fast_exclusions
    assert matcher.unscannable == []
    assert sorted(CRAWLERS[i] for i in matcher.prefilter) == sorted(p for p in CRAWLERS if crawlers.LOOKAROUND.search(p))


def test_rearranged_exclusions_delete_the_same_text(matcher):
    """The literal-first exclusion regex deletes exactly what crawlerdetect's deletes, on ASCII agents."""
    original = matcher.unicode_exclusions
    for agents in fixture_agents().values():
        for agent in agents:
            if agent.isascii():
                assert matcher.exclusions.sub("", agent) == original.sub("", agent), agent


TOKENS = sorted({*EXCLUSIONS, "Mozilla/5.0", "Safari/537.36", " Chrome/120.0.0.0", "like Gecko", "KHTML, ",
                 "bot", "bo", "t", "crawl", "Build", "cubot", "Yandex", "Search", "Java/", "DebugBear", "b0t",
                 "Ruby", "Go ", " package http", "; ", " ", "(", ")", "/", ".", "1", "x", "K", "\u212a", "\u017f",
                 "\u0130", "\u0131", "١", "\xa0", "é"})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=12))
def test_agrees_with_crawlerdetect_on_fuzzed_agents(matcher, reference, parts):
    """Agents glued from exclusion tokens, crawler words and odd characters get crawlerdetect's verdict."""
    agent = "".join(part.replace("\\", "") if part in EXCLUSIONS else part for part in parts)
    assert matcher.is_crawler(agent) == reference(agent), agent


def test_threads_share_the_matcher(matcher):
    """Concurrent verdicts from several threads (one Hyperscan scratch each) are all right."""
    agents = fixture_agents()["crawler-user-agents examples"][:400]
    expected = [matcher.is_crawler(a) for a in agents]
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(5):
                assert [matcher.is_crawler(a) for a in agents] == expected
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_patterns_it_cannot_rearrange_or_compile_keep_the_verdicts(reference):
    """Exclusions without a literal first character and patterns Hyperscan refuses fall back, still exact."""
    extra = [r"(a)\1bc", "thằngabc"]          # a back reference (prefilter), a pattern Hyperscan cannot take
    odd = crawlers.CrawlerMatcher(crawlers=[*CRAWLERS, *extra], exclusions=["(?:x|y)z", *EXCLUSIONS])
    assert not odd.fast_exclusions
    assert len(CRAWLERS) in odd.prefilter and odd.unscannable == [len(CRAWLERS) + 1]
    assert odd.is_crawler("Mozilla/5.0 aabc") and not odd.is_crawler("Mozilla/5.0 abc")
    assert odd.is_crawler("Googlebot/2.1") and not odd.is_crawler("Mozilla/5.0 (X11) Chrome/120.0")
    assert odd.is_crawler("bxzot") and not reference("bxzot")   # "xz" is deleted: "bot" is left
    assert odd.is_crawler("Mozilla thằngabc 1.0") and not odd.is_crawler("Mozilla thằng 1.0")
