"""Tell crawlers from browsers with crawlerdetect's own patterns, at a cost that does not grow with them.

Why: crawlerdetect joins its 1,400+ crawler patterns into one 18 KB Python regex and searches it,
with backtracking, at every position of the agent: 150-450 µs for a browser, about 85 ms for a
1,000-character one. Bots rotate agents, so a verdict cache alone does not bound that cost.

How, with the same verdicts by construction (and proven over 5,000+ agents in
tests/test_crawlers.py): crawlerdetect deletes the matches of its exclusion patterns (browser
tokens such as ``Safari/537.36``) and then searches what is left for any crawler pattern. We
delete the same exclusions with the same Python regex, rearranged so that each branch starts
with a literal character (``re`` then skips non-candidates in C: ~2 µs instead of ~9 µs), and
ask a Hyperscan database of the crawler patterns, compiled once per process, whether any of
them matches what is left (~0.5 µs, whatever the number of patterns). The few patterns
Hyperscan cannot take as written (lookarounds) are compiled in prefilter mode and confirmed
alone by ``re``. crawlerdetect itself is never run on the hit path: confirming with it would
bring its worst case back for every agent an attacker makes crawler-like.

Agents with non-ASCII characters (rare: browsers send ASCII) get the same: the exclusions in
crawlerdetect's own form, then the same database over a copy of what is left in which each
non-ASCII character is one byte that, for Hyperscan, matches just what the character matches
for Python's ``re`` here (``.`` and negated classes; the four characters ``re`` folds to ASCII
letters, such as the Kelvin sign, become those letters). Patterns with Unicode-aware classes
(``\\d``: one today) are searched by ``re`` itself on such agents.

The data comes from the installed crawlerdetect package at run time, so an update of its
patterns is a version bump. A pattern this module cannot rearrange or compile makes it fall
back to crawlerdetect's own form of that regex (slower, logged), never to a different verdict.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time

import hyperscan
from crawlerdetect.providers.crawlers import data as CRAWLER_PATTERNS
from crawlerdetect.providers.exclusions import data as EXCLUSION_PATTERNS

log = logging.getLogger(__name__)

VERDICT_CACHE_SIZE = 16384
"""Verdicts kept per worker process (an LRU of about 5 MB of agents); a miss costs a few µs, not a regex run."""

LOOKAROUND = re.compile(r"\(\?<?[=!]|\\[1-9]")
"""Constructs Hyperscan refuses as written: compiled in prefilter mode and confirmed by ``re``."""

UNICODE_AWARE = re.compile(r"\\[dDwWsSbB]")
"""Classes that ``re`` widens to Unicode (digits, word characters, spaces) while Hyperscan here does not."""

OTHER_CHARACTER = "\x80"
"""What a non-ASCII character becomes for Hyperscan: a byte no pattern names, matched only by ``.`` and ``[^...]``."""

OPTIONAL_GROUP = re.compile(r"^\((?:\?:)?([^()\[\]|\\*+?{}.^$]*)\)\?(.+)$")
"""``(like )?Gecko...``: a plain optional group in front, rewritten as ``like Gecko...|Gecko...``."""


def _split_first_char(pattern: str) -> tuple[str, str] | None:
    """Split a pattern into (its possible first characters, the rest), or None if it does not start with one."""
    if pattern.startswith("\\"):
        head = pattern[:2]
    elif pattern.startswith("["):
        end = pattern.find("]", 1)
        head = pattern[:end + 1] if end > 0 else ""
    else:
        head = pattern[:1]
    if not head or head in ("^", "$", ".", "(", ")", "|", "*", "+", "?", "{"):
        return None
    chars = set()
    for c in map(chr, range(128)):        # which ASCII characters the head matches, case-insensitively
        if re.fullmatch(head, c, re.IGNORECASE):
            chars.add(c)
    rest = pattern[len(head):]
    if not chars or rest[:1] in ("*", "+", "?", "{"):
        return None                           # the head is quantified: not a first character
    return "".join(sorted(chars)), rest


def _has_top_level_bar(pattern: str) -> bool:
    """Tell whether a pattern is an alternation at its top level (outside groups and classes)."""
    depth, in_class, escaped = 0, False, False
    for c in pattern:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
    return False


def literal_first_exclusions(patterns: list[str]) -> re.Pattern | None:
    """Rearrange crawlerdetect's exclusion alternation so every branch starts with a literal character.

    ``(?i)(A|B|C...)`` becomes ``S(?i:afari...|uper...)|s(?i:afari...|uper...)|F(?i:...)...``: at any
    position only the branches whose first character is the one there can match, and they keep
    their order, so the leftmost-first matches (hence ``sub``) are the same on ASCII text.
    Answer None when a pattern does not fit that shape (the caller then keeps the original).
    """
    groups: dict[str, list[str]] = {}
    for pattern in patterns:
        if LOOKAROUND.search(pattern) or "(?P" in pattern:
            return None                       # lookarounds see the split-off character; groups get renumbered
        optional = OPTIONAL_GROUP.match(pattern)
        variants = [optional[1] + optional[2], optional[2]] if optional else [pattern]
        for variant in variants:
            if _has_top_level_bar(variant):
                return None                   # "A|B" in one list item: its branches have other first characters
            split = _split_first_char(variant)
            if split is None:
                return None
            chars, rest = split
            for c in chars:
                groups.setdefault(c, []).append(rest)
    branches = [re.escape(c) + "(?i:" + "|".join(f"(?:{r})" if r else "" for r in rests) + ")"
                for c, rests in groups.items()]
    try:
        return re.compile("|".join(branches))
    except re.error:
        return None


def _compile(patterns: list[str], prefilter: set[int]) -> tuple[hyperscan.Database, set[int], list[int]]:
    """Compile the patterns into one database; answer it, the ids in prefilter mode, and those left out.

    A pattern Hyperscan refuses as written goes in prefilter mode (confirmed by ``re``); one it
    refuses even so is left out and searched by ``re`` on every agent (logged: slower, still exact).
    """
    flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
    left_out: list[int] = []

    def build(ids: list[int]) -> hyperscan.Database:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(expressions=[patterns[i].encode("ascii") for i in ids], ids=ids,
                         flags=[flags | (hyperscan.HS_FLAG_PREFILTER if i in prefilter else 0) for i in ids])
        return database

    try:
        return build(list(range(len(patterns)))), prefilter, left_out
    except (hyperscan.error, UnicodeEncodeError):
        pass
    for i in range(len(patterns)):            # find the culprits one by one (only after an update)
        for attempt in ("as written", "prefilter"):
            try:
                build([i])
                break
            except (hyperscan.error, UnicodeEncodeError):
                if attempt == "as written":
                    prefilter.add(i)
                else:
                    left_out.append(i)
    log.warning("crawler patterns Hyperscan cannot take, searched by re on every agent: %s",
                [patterns[i] for i in left_out])
    return build([i for i in range(len(patterns)) if i not in left_out]), prefilter - set(left_out), left_out


class CrawlerMatcher:
    """crawlerdetect's verdict, computed with a Hyperscan database of its patterns."""

    def __init__(self, crawlers: list[str] = CRAWLER_PATTERNS, exclusions: list[str] = EXCLUSION_PATTERNS):
        started = time.perf_counter()
        # crawlerdetect's own form of the exclusions: exact on any text, ~9 µs on a browser agent.
        self.unicode_exclusions = re.compile(f'({"|".join(exclusions)})', re.IGNORECASE)
        self.exclusions = literal_first_exclusions(exclusions)
        self.fast_exclusions = self.exclusions is not None
        if self.exclusions is None:
            log.warning("crawler exclusions: a pattern does not start with a literal; using crawlerdetect's form")
            self.exclusions = self.unicode_exclusions
        prefilter = {i for i, p in enumerate(crawlers) if LOOKAROUND.search(p)}
        self.database, self.prefilter, unscannable = _compile(crawlers, prefilter)
        self.unscannable = unscannable
        unicode_aware = {i for i, p in enumerate(crawlers) if UNICODE_AWARE.search(p)}
        self.python = {i: re.compile(crawlers[i], re.IGNORECASE)
                       for i in {*self.prefilter, *unscannable, *unicode_aware}}
        scanned = set(range(len(crawlers))) - set(unscannable)
        self.exact = frozenset(scanned - self.prefilter)
        self.exact_ascii_only = frozenset(self.exact - unicode_aware)
        self.always = [self.python[i] for i in unscannable]
        self.always_non_ascii = [self.python[i] for i in {*unscannable, *unicode_aware}]
        self.fold = _non_ascii_table()
        self._local = threading.local()       # Hyperscan releases the GIL: one scratch per thread
        self.build_seconds = time.perf_counter() - started

    def _scratch(self) -> hyperscan.Scratch:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self.database)
        return scratch

    def is_crawler(self, user_agent: str) -> bool:
        """Tell whether crawlerdetect would call this User-Agent a crawler."""
        user_agent = user_agent.strip()
        if user_agent.isascii():
            left = self.exclusions.sub("", user_agent)
            data, exact, always = left, self.exact, self.always
        else:
            left = self.unicode_exclusions.sub("", user_agent)
            data, exact, always = left.translate(self.fold), self.exact_ascii_only, self.always_non_ascii
        if not left:
            return False
        found: list[int] = []
        try:
            self.database.scan(data.encode("latin-1"), match_event_handler=_on_match, context=(found, exact),
                               scratch=self._scratch())
        except hyperscan.ScanTerminated:
            return True                       # a pattern Hyperscan matches exactly matched
        return any(self.python[i].search(left) for i in found if i in self.prefilter) or \
            any(rx.search(left) for rx in always)


def _on_match(pattern_id: int, start: int, end: int, flags: int, context: tuple[list[int], frozenset]) -> bool:
    """Stop the scan at the first exact match; note the others (prefilter: a superset) for ``re`` to confirm."""
    found, exact = context
    if pattern_id in exact:
        return True
    found.append(pattern_id)
    return False


class _NonAsciiTable(dict):
    """``str.translate`` table: ASCII as it is, the ASCII-folding letters as their letter, the rest one byte."""

    def __missing__(self, code: int) -> str:
        return OTHER_CHARACTER


def _non_ascii_table() -> _NonAsciiTable:
    table = _NonAsciiTable((c, chr(c)) for c in range(128))
    table.update((c, OTHER_CHARACTER) for c in range(128, 256))
    plane = "".join(map(chr, range(128, 0xD800))) + "".join(map(chr, range(0xE000, 0x10000)))
    for folding in re.findall("[a-z]", plane, re.IGNORECASE):     # İ ı ſ K: re matches them to i, i, s, k
        table[ord(folding)] = next(a for a in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(a, folding, re.IGNORECASE))
    return table


_built: list[CrawlerMatcher] = []
_building = threading.Lock()


def matcher() -> CrawlerMatcher:
    """The process's matcher, built on first use: in each worker (~70 ms), not in the gunicorn master."""
    if not _built:
        with _building:                       # the first hits of a worker's threads wait for one build
            if not _built:
                _built.append(CrawlerMatcher())
                log.debug("crawler patterns compiled in %.0f ms", _built[0].build_seconds * 1000)
    return _built[0]


@functools.lru_cache(maxsize=VERDICT_CACHE_SIZE)
def is_crawler(user_agent: str) -> bool:
    """Tell whether a User-Agent is a crawler or headless browser, as crawlerdetect says (cached per worker)."""
    return matcher().is_crawler(user_agent)

