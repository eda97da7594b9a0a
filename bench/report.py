"""Markdown tables, the machine description, and the results files of a benchmark run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import platform
import shutil
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .launch import loadavg


@dataclasses.dataclass
class Section:
    """One part of RESULTS.md: a title, what it measured and how, and its tables."""

    title: str
    intro: str
    body: str


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _command_output(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10)
        return (done.stdout or done.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    """What the numbers were measured on (CPU, versions, load)."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    memory = next((f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB" for line in
                   Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "?")
    wrk = _command_output(["wrk", "--version"]).splitlines()[0].split(" Copyright")[0] if shutil.which("wrk") else "?"
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": _command_output(["nproc"]),
        "CPU": cpu,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis-server": _command_output(["redis-server", "--version"]).split(" sha=")[0],
        "redis-py / hiredis": f"{_version('redis')} / {_version('hiredis')}",
        "gunicorn / flask / werkzeug": f"{_version('gunicorn')} / {_version('flask')} / {_version('werkzeug')}",
        "crawlerdetect / hyperscan": f"{_version('crawlerdetect')} / {_version('hyperscan')}",
        "gevent": _version("gevent"),
        "wrk": wrk,
        "load average at start": loadavg(),
    }


NOTES = [
    "Service started with the image's command and settings, `python -m gunicorn -c python:service.gunicorn_config "
    "'bench.floor:create_app()'`: the product's app plus `POST /bench/floor` (same body read, `204`, nothing "
    "else; it still runs the app's before/after-request hooks), on 127.0.0.1, a private "
    "redis-server with **AOF off** (production keeps it on), `LOG_LEVEL=WARNING`, `ACCESS_LOG=0`.",
    "**`VISITOR_HITS_PER_MINUTE=1000000` and `IP_HITS_PER_MINUTE=0`** (no per-address limit): the load "
    "comes from one IP (127.0.0.1) and a few thousand User-Agents, so the default caps (60 a visitor, "
    "3,000 an address and site) would turn most of it into `rate_limited` drops or `429`s, which cost "
    "less than a counted hit. With the per-address limit on, each hit runs one more INCR (+EXPIRE) in "
    "the script.",
    "wrk, Redis and gunicorn share the machine's cores; other jobs may run on it too (see load averages).",
]


def write(path: Path, about: dict, sections: list[Section], raw: dict, quick: bool) -> str:
    """Write RESULTS.md (and the raw numbers beside it, .json); answer the markdown."""
    about["load average at end"] = loadavg()
    notes = NOTES if not quick else [
        "**Quick run (`--quick`)**: 3-second runs, 2 rounds, on a shared and noisy machine — read the "
        "figures as rough; run without `--quick` for the reference numbers.", *NOTES]
    command = " ".join([".venv/bin/python bench/run.py", *sys.argv[1:]])
    markdown = ["# Benchmark results", "", f"Produced by `{command}`.", "", "## Machine", "",
                table(["", ""], [[k, v] for k, v in about.items()]), "", "## Notes", ""]
    markdown += [f"- {n}" for n in notes]
    for section in sections:
        markdown += ["", f"## {section.title}", "", section.intro, "", section.body]
    text = "\n".join(markdown) + "\n"
    path.write_text(text)
    path.with_suffix(".json").write_text(json.dumps({"machine": about, **raw}, indent=1, default=str))
    return text
