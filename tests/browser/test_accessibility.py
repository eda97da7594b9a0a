"""axe-core (npm, injected by Playwright) on the demo page and on a portal page with widgets.

axe.min.js comes from the npm package `make test` installs into the venv (.venv/npm/); a missing
file fails the tests, it never skips them.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, AXE, DESKTOP_CHROME

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")


@pytest.fixture
def axe_page(browser):
    """A tab that may inject axe: the demo page's strict CSP would refuse the injected script."""
    assert AXE.is_file(), f"{AXE} missing: run `make test` (it installs the npm package axe-core)"
    context = browser.new_context(user_agent=DESKTOP_CHROME, bypass_csp=True, viewport={"width": 320, "height": 640})
    yield context.new_page()
    context.close()


def axe_violations(page, name: str) -> dict[str, list[str]]:
    """Run axe on the page; write its violations to tests/artifacts/axe-<name>.json and answer
    {impact: [rule id (nodes)]}."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    ARTIFACTS.mkdir(exist_ok=True)
    violations = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                   "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]]
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(violations, indent=2, ensure_ascii=False))
    by_impact: dict[str, list[str]] = {}
    for violation in violations:
        by_impact.setdefault(violation["impact"], []).append(f"{violation['id']} ({len(violation['nodes'])})")
    return by_impact


@pytest.mark.parametrize("width", [320, 1280])
def test_demo_page_has_no_serious_accessibility_violation(service, axe_page, width):
    """axe finds nothing serious or critical on the demo page, widgets filled in, on a phone and a desktop."""
    service.add_site("demo")
    axe_page.set_viewport_size({"width": width, "height": 800})
    axe_page.goto(service.url)
    expect(axe_page.locator("[data-visitor-stats]").first).to_have_attribute("data-va-state", "ok")
    found = axe_violations(axe_page, f"demo-{width}")
    assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, found


def test_widget_has_no_serious_accessibility_violation_and_says_its_language(service, portal, axe_page):
    """On a Vietnamese page, a Vietnamese and an English block: axe finds nothing serious, and the
    English block says it is English (a screen reader would read it with a Vietnamese voice otherwise)."""
    url = portal.add_page("/lang", head=f'<script defer src="{service.url}widget.js"></script>',
                          body='<aside aria-label="Cột bên"><div data-visitor-stats data-site="portal"></div>'
                               '<div data-visitor-stats data-site="portal" data-lang="en"></div></aside>')
    axe_page.goto(url)
    blocks = axe_page.locator("[data-visitor-stats]")
    for n in range(2):
        expect(blocks.nth(n)).to_have_attribute("data-va-state", "ok")
    languages = axe_page.evaluate("""() => [...document.querySelectorAll('[data-visitor-stats]')].map(
        el => [el.closest('[lang]').lang, el.shadowRoot.querySelector('.va').lang])""")
    assert languages == [["vi", "vi-VN"], ["vi", "en-US"]]
    found = axe_violations(axe_page, "widget")
    assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, found
