#!/usr/bin/env python
"""What classifying a hit's source and device costs, in-process: run by hand.

    .venv/bin/python bench/classify.py

Prints µs per call (best of several repeats) for a User-Agent never seen before and one in the
cache, and for a referrer whose host was never seen before and one whose host is cached; plus
the one-off costs (loading the referrer lists, building ua-parser's resolver).
"""

from __future__ import annotations

import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPEATS = 5
AGENTS_PER_RUN = 4000
HOSTS_PER_RUN = 4000

AGENT_TEMPLATES = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{i}.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-A536E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{i}.81 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E{i} Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) coc_coc_browser/{v}.0.{i} "
    "Chrome/121.0.6167.166 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-A155F Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/{v}.0.6367.114 Mobile Safari/537.36 Zalo android/{i} ZaloTheme/light ZaloLanguage/vi",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "[FBAN/FBIOS;FBAV/{v}.0.0.42.108;FBBV/{i};FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.5.1;FBSS/3;FBID/phone;"
    "FBLC/vi_VN;FBOP/5;FBRV/616107372]",
)
"""The mix of a Vietnamese portal's readers: desktop Chrome and Cốc Cốc, Android, iPhone, Zalo, Facebook."""


def best_fresh(make_inputs, call, repeats: int = REPEATS) -> float:
    """µs per call on inputs never seen before: best of ``repeats`` runs over fresh inputs."""
    times = []
    for run in range(repeats):
        inputs = make_inputs(run)
        started = time.perf_counter()
        for item in inputs:
            call(item)
        times.append((time.perf_counter() - started) / len(inputs) * 1e6)
    return min(times)


def best(fn, number: int, repeats: int = REPEATS) -> float:
    """µs per call, best of ``repeats`` runs of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeats)) / number * 1e6


def main() -> None:
    from service.ingest import devices, sources
    from service.ingest.devices import classify_device
    from service.ingest.sources import classify_source

    out: dict[str, float] = {}
    started = time.perf_counter()
    sources.table()
    out["load the referrer lists (once per process)"] = (time.perf_counter() - started) * 1e6
    started = time.perf_counter()
    devices._parser()
    out["build ua-parser's resolver (once per process)"] = (time.perf_counter() - started) * 1e6
    started = time.perf_counter()
    devices.parse(AGENT_TEMPLATES[0].format(v=1, i=1))
    out["first agent parsed (the Rust regexes compile lazily)"] = (time.perf_counter() - started) * 1e6

    def agents(run: int) -> list[str]:
        return [AGENT_TEMPLATES[i % len(AGENT_TEMPLATES)].format(v=100 + run, i=run * 1_000_000 + i)
                for i in range(AGENTS_PER_RUN)]

    for warm in agents(99):  # the lazy DFAs fill up over the first thousands of agents
        classify_device(warm)
    out["User-Agent never seen (parse + cache)"] = best_fresh(agents, classify_device)
    out["  of which ua-parser alone"] = best_fresh(
        agents, lambda a, p=devices._parser(): p(a, devices_domains()), repeats=3)
    out["  of which our tokens (app, device type)"] = best(lambda: our_tokens(agents_sample), 20_000)
    cached = AGENT_TEMPLATES[4].format(v=124, i=13169)
    classify_device(cached)
    out["User-Agent cached"] = best(lambda: classify_device(cached), 200_000)

    def never(host: str) -> bool:
        return False

    def referrers(run: int) -> list[str]:
        return [(f"https://www.google.com.vn.r{run}x{i}.example.vn/search?q=x" if i % 2 else
                 f"https://sotttt{run}-{i}.travinh.gov.vn/tin-tuc/abc-{i}.html") for i in range(HOSTS_PER_RUN)]

    out["referrer host never seen (normalize + look up + cache)"] = best_fresh(
        referrers, lambda r: classify_source(r, "", "none", never, never))
    google = "https://www.google.com.vn/url?sa=t&rct=j&q=&esrc=s&source=web&cd=&url=https://travinh.gov.vn/"
    classify_source(google, "", "none", never, never)
    out["referrer host cached (Google)"] = best(lambda: classify_source(google, "", "none", never, never), 200_000)
    site = "https://baochinhphu.vn/thu-tuong-chu-tri-hop-102240101.htm"
    classify_source(site, "", "none", never, never)
    out["referrer host cached (a referral)"] = best(lambda: classify_source(site, "", "none", never, never), 200_000)
    out["no referrer, no campaign"] = best(lambda: classify_source("", "id=12", "none", never, never), 200_000)
    out["campaign (utm_source)"] = best(
        lambda: classify_source(google, "utm_source=zalo_oa&utm_medium=social", "none", never, never), 100_000)

    import ua_parser
    print(f"ua-parser {'.'.join(map(str, ua_parser.VERSION))}, resolver {ua_parser.BestAvailableResolver.__module__}"
          f", Python {sys.version.split()[0]}")
    width = max(map(len, out))
    for name, micros in out.items():
        print(f"{name:<{width}}  {micros:10.2f} µs")


def our_tokens(agent: str) -> tuple[str, str]:
    """The app and device type of an agent, as ``devices.parse`` works them out."""
    from service.ingest import devices

    kinds = devices.token_kinds(agent)
    return devices.in_app(kinds), devices.device_type(kinds, "Android")


def devices_domains():
    from ua_parser import Domain
    return Domain.USER_AGENT | Domain.OS


agents_sample = AGENT_TEMPLATES[4].format(v=124, i=13169)

if __name__ == "__main__":
    main()
