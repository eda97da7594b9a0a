"""Audit (not fixed): the per-day sources and browsers detail a flood can fill is far above the sizing page's ceiling.

A reader sends SOURCES_PER_DAY (1,000) visits a day, each with its own utm_source of 100 four-byte
characters and a User-Agent whose CFNetwork app name ua-parser takes as the browser family (up to 40
characters): the day's ``src`` hash holds ~490 KB, ``br`` ~90 KB more, and both are kept DETAIL_DAYS
(400) days. That is ~220 MiB per site for ~1,000 hits a day, for good, above the "about 110 MiB for the
all-time part and 10 MiB for today" docs/sizing.md gives as what a flooded site can reach, and
nowhere in the sizing. Spec, Storage: "a site hit with a million invented paths a day for a year uses
no more Redis than the README's sizing says". Fix (larger than an audit's): keep a past day's top N
names only (as pages_before is trimmed), or cap names in bytes, and document the bytes.
"""

from __future__ import annotations

from .helpers import add_site, hit

DOCUMENTED_FLOOD_CEILING = 120 * 2**20
"""docs/sizing.md, "The ceiling a flood cannot pass": ~110 MiB all time + ~10 MiB today, per site."""


def _letters(n: int) -> str:
    word = ""
    for _ in range(6):
        n, rest = divmod(n, 26)
        word += chr(97 + rest)
    return word


def test_a_year_of_flooded_detail_stays_within_the_documented_ceiling(app, client, redis_client):
    settings = app.extensions["settings"]
    add_site(client)
    bold = "%F0%9D%90%80" * 94  # 𝐀, four bytes in UTF-8
    for i in range(settings.SOURCES_PER_DAY):
        agent = f"Zz{_letters(i)}Zqwertyuiopasdfghjklzxcvbnmqw/1.0 CFNetwork/1.0 Darwin/20.0"
        response = hit(client, url=f"https://travinh.gov.vn/a?utm_source={bold}{_letters(i)}",
                       ip=f"10.{i // 250}.{i % 250}.1", agent=agent)
        assert response.status_code == 204
    day_bytes = sum(redis_client.memory_usage(key) or 0 for pattern in ("va:{travinh}:src:*", "va:{travinh}:br:*")
                    for key in redis_client.keys(pattern))
    assert day_bytes * settings.DETAIL_DAYS <= DOCUMENTED_FLOOD_CEILING, \
        f"{day_bytes} B a day x {settings.DETAIL_DAYS} days = {day_bytes * settings.DETAIL_DAYS / 2**20:.0f} MiB"
