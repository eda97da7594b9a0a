"""The docs stay true to the tree: links resolve, every setting is documented, the README stays short."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_MAX_BYTES = 10_000
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def prose(text: str) -> str:
    """The text without code blocks and code spans, where link syntax is only an example."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor the headings of a markdown file make, repeated ones numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def relative_links(path: Path) -> list[str]:
    """The links of a markdown file that point inside the repository."""
    links = LINK.findall(prose(path.read_text()))
    return [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link, re.I)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page):
    """Each relative link of the README, CONTRIBUTING, CHANGELOG and docs/ names a file or folder
    that exists, and each anchor a heading of its target."""
    broken = []
    for link in relative_links(page):
        target, _, anchor = link.partition("#")
        resolved = (page.parent / target).resolve() if target else page
        if not resolved.exists():
            broken.append(f"{link}: no {resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved}")
        elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            broken.append(f"{link}: no heading #{anchor}")
    assert not broken, broken


def test_the_link_checker_sees_links_and_anchors():
    """The checker finds inline links and images outside code, and makes GitHub's anchors."""
    text = "See [a](docs/a.md#x-y), ![i](b.png) and `[no](c.md)`.\n```\n[no](d.md)\n```\n"
    assert LINK.findall(prose(text)) == ["docs/a.md#x-y", "b.png"]
    assert slug('Pages: "Lượt xem" and `data-rows`') == "pages-lượt-xem-and-data-rows"


def test_every_setting_is_in_the_configuration_page():
    """docs/configuration.md names every field of the Settings class."""
    text = (DOCS / "configuration.md").read_text()
    missing = [f.name for f in dataclasses.fields(Settings) if f"`{f.name}`" not in text]
    assert not missing, missing


def test_every_process_variable_is_in_the_configuration_page():
    """docs/configuration.md names every variable the gunicorn configuration and the CLI read."""
    sources = [ROOT / "service" / "ops" / "gunicorn_config.py", *sorted((ROOT / "service" / "cli").glob("*.py"))]
    names = set()
    for source in sources:
        code = source.read_text()
        names |= set(re.findall(r"os\.environ(?:\.get\(|\[)\s*[\"']([A-Z_]+)[\"']", code))
        names |= set(re.findall(r"envvar=[\"']([A-Z_]+)[\"']", code))
    text = (DOCS / "configuration.md").read_text()
    assert names >= {"BIND", "PORT", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR", "DATA_DIR"}, names
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, missing


def test_readme_is_short():
    """README.md stays under 10 KB: the details live in docs/."""
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, size


def test_privacy_page_lists_every_redis_key():
    """docs/privacy.md's Redis table names every key the key layout (service/storage/keys.py) documents."""
    import re

    from service.storage import keys

    documented = set(re.findall(r"^``([^`]+)``", keys.__doc__, re.M))
    page = (ROOT / "docs" / "privacy.md").read_text()
    missing = [key for key in documented if f"`{key}`" not in page]
    assert documented and not missing, missing
