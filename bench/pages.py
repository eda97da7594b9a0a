"""Section 5: Redis memory of per-page views: one news portal, 400 simulated days, 10,000 pages a day."""

from __future__ import annotations

import datetime as dt
import heapq
import random
import re
import secrets
import time
import unicodedata
from zoneinfo import ZoneInfo

from service.storage import keys
from service.model.hits import Hit
from service.model.page_urls import clean_title, page_key
from service.model.sites import Site

from .launch import Bench, log
from .memory import KEY_CLASSES, ZONE, direct_store, site_memory, write
from .report import Section, table

SITE = "pages-400d"
START_ARTICLES, NEW_ARTICLES_A_DAY, PAGES_A_DAY = 10_000, 50, 10_000
VISITORS = 20_000
"""Visitor ids reused day after day: session keys stay bounded (they are not what this measures)."""

SUBJECTS = ["Tỉnh Trà Vinh", "UBND thành phố Cần Thơ", "Sở Giáo dục và Đào tạo", "Bộ Y tế", "Hội Nông dân tỉnh",
            "Công an huyện Châu Thành", "Thủ tướng Chính phủ", "Ngân hàng Nhà nước", "Trường Đại học Trà Vinh",
            "Đoàn Thanh niên xã Long Đức", "Ủy ban Mặt trận Tổ quốc", "Sở Nông nghiệp và Phát triển nông thôn",
            "Bệnh viện Đa khoa tỉnh", "Liên đoàn Lao động huyện Cầu Kè", "Ban Quản lý dự án"]
VERBS = ["tổ chức", "triển khai", "công bố", "khai mạc", "kiểm tra", "phát động", "tổng kết", "hướng dẫn", "đề xuất",
         "phê duyệt", "trao tặng", "ra quân", "bàn giao", "khánh thành"]
OBJECTS = ["hội nghị tổng kết công tác năm", "kế hoạch phòng chống thiên tai", "lễ hội Ok Om Bok",
           "chương trình mục tiêu quốc gia xây dựng nông thôn mới", "giải bóng đá thiếu niên nhi đồng",
           "dự án đường giao thông nông thôn", "đợt cao điểm tấn công trấn áp tội phạm", "nhà đại đoàn kết",
           "học bổng cho học sinh nghèo vượt khó", "mô hình trồng lúa hữu cơ", "cầu dân sinh", "bảo hiểm y tế"]
TAILS = ["tại xã Long Đức", "trong tháng cao điểm", "giai đoạn 2026–2030", "cho người dân vùng sâu", "năm học mới",
         "với sự tham dự của hơn 300 đại biểu", "nhân dịp Tết Nguyên đán", "ở huyện Duyên Hải",
         "đạt kết quả tích cực"]


def title_of(rng: random.Random) -> str:
    """A headline of 40 to 120 characters, as portals write them."""
    want = rng.randint(40, 120)
    words = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}".split()
    while len(" ".join(words)) < want:
        words += rng.choice(TAILS + OBJECTS).split()
    while len(" ".join(words)) > 120 or (len(" ".join(words)) > want and len(" ".join(words[:-1])) >= 40):
        words.pop()
    return " ".join(words)


def slug_of(title: str) -> str:
    plain = unicodedata.normalize("NFD", title.replace("Đ", "D").replace("đ", "d"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


class Portal:
    """An article pool that grows every day; each article's appeal fixed, the newest hotter."""

    def __init__(self, rng: random.Random):
        self.rng, self.paths, self.titles, self.appeal = rng, [], [], []
        self.publish(START_ARTICLES)

    def publish(self, count: int) -> None:
        for _ in range(count):
            title = title_of(self.rng)
            self.titles.append(title)
            self.paths.append(page_key(f"/tin-tuc/{slug_of(title)}-{100_000 + len(self.paths)}.html"))
            self.appeal.append(min(50.0, self.rng.paretovariate(1.2)))

    def views_of_day(self, views_per_page: float) -> list[int]:
        """Article indexes of one day's views: PAGES_A_DAY distinct articles (weighted sampling
        without replacement, Zipf-like by age), the views beyond one each spread by weight."""
        newest = len(self.paths) - 1
        weight = [self.appeal[i] / (newest - i + 1) ** 0.8 for i in range(newest + 1)]
        expo = self.rng.expovariate
        chosen = heapq.nsmallest(PAGES_A_DAY, range(newest + 1), key=lambda i: expo(1.0) / weight[i])
        extra = max(0, round(PAGES_A_DAY * (views_per_page - 1)))
        views = chosen + self.rng.choices(chosen, weights=[weight[i] for i in chosen], k=extra)
        self.rng.shuffle(views)
        return views


def simulate(portal: Portal, days: int, views_per_page: float, now: dt.datetime):
    """Hits of ``days`` local days ending today, spread over each day (today: until now)."""
    tz, rng = ZoneInfo(ZONE), portal.rng
    today = now.astimezone(tz).date()
    crowd = [secrets.token_hex(12) for _ in range(VISITORS)]
    for back in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=back)
        start = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.timezone.utc)
        span = min(86_400.0, (now - start).total_seconds())
        views = portal.views_of_day(views_per_page)
        for n, article in enumerate(views):
            at = start + dt.timedelta(seconds=span * n / len(views))
            yield Hit(SITE, rng.choice(crowd), "pageview", at, ZONE, day=day, page=portal.paths[article],
                      title=clean_title(portal.titles[article]))
        portal.publish(NEW_ARTICLES_A_DAY)


def page_keys_memory(client, today: dt.date, days: int) -> dict:
    """MEMORY USAGE (SAMPLES 0: every element) and sizes of the site's page keys."""
    pipe = client.pipeline(transaction=False)
    pipe.memory_usage(keys.pages_all(SITE), samples=0).zcard(keys.pages_all(SITE))
    pipe.memory_usage(keys.page_titles(SITE), samples=0).hlen(keys.page_titles(SITE))
    for back in range(days):
        name = keys.pages_day(SITE, today - dt.timedelta(days=back))
        pipe.memory_usage(name, samples=0).zcard(name).ttl(name)
    answers = pipe.execute()
    day_sets = [{"back": back, "bytes": answers[4 + 3 * back] or 0, "pages": answers[5 + 3 * back],
                 "ttl": answers[6 + 3 * back]} for back in range(days)]
    return {"all": answers[0], "all_pages": answers[1], "titles": answers[2], "titles_count": answers[3],
            "day_sets": [d for d in day_sets if d["pages"]]}


def measure(bench: Bench) -> dict:
    args, client = bench.args, bench.store.client
    client.flushall()
    store, portal = direct_store(bench), Portal(random.Random(13))
    store.put_site(Site(SITE, (f"{SITE}.example.vn",), ZONE))
    now = dt.datetime.now(dt.timezone.utc)
    days, total = args.pages_days, round(args.pages_days * PAGES_A_DAY * args.pages_views)
    log(f"pages: {days} days × {PAGES_A_DAY:,} pages × {args.pages_views} views into one site")
    started, used0 = time.monotonic(), int(client.info("memory")["used_memory"])
    seconds = write(store, "pages", simulate(portal, days, args.pages_views, now), total, every=500_000)
    used1 = int(client.info("memory")["used_memory"])
    today = now.astimezone(ZoneInfo(ZONE)).date()
    found = page_keys_memory(client, today, days)
    store.redis.close()
    return {"days": days, "views_per_page": args.pages_views, "hits": total, "write_seconds": seconds,
            "used_memory_delta": used1 - used0, "by_class": site_memory(client, SITE), **found,
            "articles": len(portal.paths),
            "path_bytes": sum(len(p.encode()) for p in portal.paths) / len(portal.paths),
            "title_chars": sum(map(len, portal.titles)) / len(portal.titles),
            "title_bytes": sum(len(t.encode()) for t in portal.titles) / len(portal.titles),
            "seconds": time.monotonic() - started}


def tables(r: dict) -> str:
    today = next(d for d in r["day_sets"] if d["back"] == 0)
    kept = [d for d in r["day_sets"] if 1 <= d["back"] <= keys.PAGE_DAYS_KEPT]
    beyond = [d for d in r["day_sets"] if d["back"] > keys.PAGE_DAYS_KEPT]
    past, past_pages = (sum(d[f] for d in kept) / len(kept) for f in ("bytes", "pages"))
    steady = r["all"] + r["titles"] + today["bytes"] + past * keys.PAGE_DAYS_KEPT
    forever = sum(r["by_class"].get(c, [0, 0])[1] for c in ("cfg", "tot", "base", "h"))
    kib = lambda b: f"{b / 1024:,.1f} KiB"  # noqa: E731
    per_page = table(["what", "entries", "MEMORY USAGE", "bytes per entry"], [
        [f"all-time zset `pg:all` (path → views; paths avg {r['path_bytes']:.0f} B)", f"{r['all_pages']:,}",
         kib(r["all"]), f"{r['all'] / r['all_pages']:,.1f}"],
        [f"titles hash `pg:t` (titles avg {r['title_chars']:.0f} chars, {r['title_bytes']:.0f} B UTF-8)",
         f"{r['titles_count']:,}", kib(r["titles"]), f"{r['titles'] / r['titles_count']:,.1f}"],
        ["today's day set `pg:d:<today>` (full)", f"{today['pages']:,}", kib(today["bytes"]),
         f"{today['bytes'] / today['pages']:,.1f}"],
        [f"one trimmed past day `pg:d:<day>` (mean of days 1–{keys.PAGE_DAYS_KEPT} back)",
         f"{past_pages:,.0f}", kib(past), f"{past / past_pages:,.1f}"],
    ])
    steady_rows = [
        ["all-time zset + titles (forever, grow with distinct pages)", kib(r["all"] + r["titles"])],
        ["today's full day set", kib(today["bytes"])],
        [f"{keys.PAGE_DAYS_KEPT} trimmed past days (PAGE_DAYS_KEPT; {keys.PAGES_KEPT_PER_PAST_DAY:,} pages each)",
         kib(past * keys.PAGE_DAYS_KEPT)],
        ["**page keys, steady state per site**", f"**{kib(steady)}**"],
        ["other keys kept forever (cfg, tot, base, history months)", kib(forever)],
        ["INFO used_memory Δ over the whole run (all keys alive at the end, allocator overhead)",
         kib(r["used_memory_delta"])],
    ]
    counts = [[KEY_CLASSES.get(kind, "page keys (`pg:…`)" if kind == "pg" else kind), f"{n:,}", kib(size)]
              for kind, (n, size) in sorted(r["by_class"].items(), key=lambda kv: -kv[1][1])]
    counts += [["of the page keys: day sets alive", f"{len(r['day_sets']):,}",
                kib(sum(d["bytes"] for d in r["day_sets"]))],
               [f"… of which more than {keys.PAGE_DAYS_KEPT} days back (alive: Redis's clock did not move)",
                f"{len(beyond):,}", kib(sum(d["bytes"] for d in beyond))]]
    run = table(["days", "distinct pages a day", "views a page (avg)", "hits", "articles at the end",
                 "write time (direct, batches of 500)", "section time"],
                [[r["days"], f"{PAGES_A_DAY:,}", r["views_per_page"], f"{r['hits']:,}", f"{r['articles']:,}",
                  f"{r['write_seconds']:.0f} s ({r['hits'] / r['write_seconds']:,.0f} hits/s)",
                  f"{r['seconds']:.0f} s"]])
    return "\n\n".join([run, per_page, table(["steady state per site", "bytes"], steady_rows),
                        table(["key class (lifetime), raw at the end of the run", "keys", "MEMORY USAGE"], counts)])


def run(bench: Bench) -> list[Section]:
    result = measure(bench)
    bench.raw["pages"] = result
    intro = (f"One news portal: {START_ARTICLES:,} articles at the start, {NEW_ARTICLES_A_DAY} new a day; on each "
             f"of {result['days']} local days ending today, {PAGES_A_DAY:,} distinct articles viewed (weighted "
             "sampling without replacement: a fixed Pareto appeal per article over its age rank^0.8, newest hotter), "
             f"{result['views_per_page']} views a page on average, titles of 40–120 Vietnamese characters, paths "
             "`/tin-tuc/<slug>-<id>.html`. Hits written straight through `CounterStore.record_hits` in batches of 500 "
             "(visitor cap 1,000,000 a minute, no per-address limit), spread over each simulated day (today: until "
             "now). `MEMORY USAGE <key> SAMPLES 0`, `ZCARD`, `HLEN`. The script trims a day to its top "
             f"PAGES_KEPT_PER_PAST_DAY ({keys.PAGES_KEPT_PER_PAST_DAY:,}) when the next day is written and gives a "
             f"day set PAGE_DAYS_KEPT ({keys.PAGE_DAYS_KEPT}) days past its day, counted from the hit's time but in "
             "Redis's clock, which the simulation does not move: every day set written lives ~34 days from "
             "its write, so at the end all of them exist. A "
             "steady-state site holds the all-time set, the titles, today's full set and PAGE_DAYS_KEPT trimmed "
             "past days (days 1 to 33 back: a day's set goes 33 days after the day ends); the older ones are in "
             "the raw table only.")
    return [Section("Redis memory of per-page views (Lượt xem, Tin đọc nhiều)", intro, tables(result))]
