"""The operator's Tokens screen in Chromium: a token made by keyboard is shown once, listed without its
secret, signs in to its own sites only, and is revoked with its session; axe finds nothing serious on
the Tokens screen or the share link's confirm page, and both are photographed."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Error as PlaywrightError, expect

from service.dashboard.i18n import WORDS

from ..conftest import ADMIN_TOKEN
from ..helpers import ADMIN
from .conftest import ARTIFACTS, DESKTOP_CHROME
from .test_accessibility import BLOCKING, axe_violations

pytestmark = pytest.mark.browser

LABEL = "Phòng Văn hóa"
TOKEN_SITES = ("travinh", "hue-gov")
"""The sites the token is made for; the service also has "portal", which the token must not see."""
EXPIRY_DAYS = 30
SECRET = re.compile(r"va1\.[0-9a-f]{16}\.[A-Za-z0-9_-]{20,64}")


@pytest.fixture
def sites(service):
    """The service with three sites: "portal" and the token's two."""
    for site in TOKEN_SITES:
        service.add_site(site, domains=(f"{site}.gov.vn",))
    return service


def sign_in(page, service, token: str = ADMIN_TOKEN, lang: str = "vi") -> None:
    page.goto(f"{service.url}dashboard/signin?lang={lang}")
    page.get_by_label(WORDS[lang]["token"]).fill(token)
    page.get_by_role("button", name=WORDS[lang]["signin"]).click()
    expect(page.locator("h1")).to_have_text(re.compile(WORDS[lang]["sites"]))


def open_tokens_screen(page, lang: str = "vi") -> None:
    """Follow the header's link to the Tokens screen."""
    page.get_by_role("navigation").get_by_role("link", name=WORDS[lang]["tokens"]).click()
    expect(page.locator("h1")).to_contain_text(WORDS[lang]["tokens"])


def make_token_by_keyboard(page, lang: str = "vi") -> str:
    """Fill the new-token form with the keyboard only (label, Tab, sites, Tab, days, Enter); the new secret."""
    words = WORDS[lang]
    page.get_by_label(words["label"]).focus()
    page.keyboard.type(LABEL)
    page.keyboard.press("Tab")
    expect(page.get_by_label(words["token_sites"])).to_be_focused()
    page.keyboard.type(" ".join(TOKEN_SITES))
    page.keyboard.press("Tab")
    expect(page.get_by_label(words["expires_days"])).to_be_focused()
    page.keyboard.type(str(EXPIRY_DAYS))
    page.keyboard.press("Enter")
    expect(page.locator("#made-title")).to_have_text(words["token_once"])
    secret = page.text_content("#new-token").strip()
    assert SECRET.fullmatch(secret), secret
    return secret


def token_row(page, label: str = LABEL):
    return page.locator("tbody tr").filter(has=page.get_by_role("rowheader", name=label))


def test_token_is_shown_once_signs_in_to_its_sites_only_and_revoking_ends_its_session(sites, page, browser):
    """A token made on the Tokens screen is shown once, listed without its secret, opens a dashboard of
    its two sites only, and once revoked sends its open session to the sign-in form at the next page."""
    vi = WORDS["vi"]
    sign_in(page, sites)
    open_tokens_screen(page)
    expect(page.get_by_text(vi["no_tokens"])).to_be_visible()
    secret = make_token_by_keyboard(page)
    assert page.url.endswith("/dashboard/tokens")

    open_tokens_screen(page)
    assert secret not in page.content()
    assert page.locator("#new-token").count() == 0
    page.reload()
    assert secret not in page.content()
    row = token_row(page)
    expect(row).to_have_count(1)
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text(", ".join(sorted(TOKEN_SITES)))
    created = date.fromisoformat(cells.nth(1).text_content())
    expect(cells.nth(2)).to_have_text((created + timedelta(days=EXPIRY_DAYS)).isoformat())
    expect(cells.nth(3)).to_have_text(vi["never"])
    expect(page.locator("h1 .count")).to_have_text("1")

    holder = browser.new_context(user_agent=DESKTOP_CHROME)
    try:
        webmaster = holder.new_page()
        sign_in(webmaster, sites, secret)
        shown = webmaster.locator("table.sites tbody th").all_text_contents()
        assert sorted(s.strip() for s in shown) == sorted(TOKEN_SITES)
        expect(webmaster.locator(".who")).to_have_text(vi["signed_in_as"].format(
            who=vi["as_token"].format(label=LABEL)))
        ARTIFACTS.mkdir(exist_ok=True)
        webmaster.screenshot(path=str(ARTIFACTS / "dashboard-token-holder-vi.png"), full_page=True)
        nav = webmaster.get_by_role("navigation")
        expect(nav.get_by_role("link", name=vi["tokens"])).to_have_count(0)
        assert webmaster.goto(f"{sites.url}dashboard/sites/travinh").status == 200
        assert webmaster.goto(f"{sites.url}dashboard/sites/portal").status == 403
        assert webmaster.goto(f"{sites.url}dashboard/tokens").status == 403

        page.reload()
        expect(token_row(page).locator("td").nth(3)).not_to_have_text(vi["never"])
        token_row(page).get_by_role("button", name=f"{vi['revoke']}: {LABEL}").click()
        expect(page.get_by_role("status")).to_have_text(vi["token_revoked"])
        expect(page.get_by_text(vi["no_tokens"])).to_be_visible()

        webmaster.goto(f"{sites.url}dashboard/sites/travinh")
        assert "/dashboard/signin" in webmaster.url
        expect(webmaster.get_by_label(vi["token"])).to_be_visible()
        expect(webmaster.get_by_role("status")).to_have_text(vi["session_over"])
    finally:
        holder.close()


def test_going_back_to_the_answer_page_does_not_show_the_secret_again(sites, page):
    """Back to the page that showed a new token, Chromium has nothing kept (no-store) and shows no secret."""
    sign_in(page, sites)
    open_tokens_screen(page)
    secret = make_token_by_keyboard(page)
    page.get_by_role("navigation").get_by_role("link", name=WORDS["vi"]["sites"]).click()
    expect(page.locator("h1")).to_contain_text(WORDS["vi"]["sites"])
    with pytest.raises(PlaywrightError, match="ERR_CACHE_MISS"):  # it would have to POST the form again
        page.go_back()
    page.wait_for_url(re.compile(r"^chrome-error://"))  # "Confirm Form Resubmission"
    assert secret not in page.content()


def test_a_refused_token_says_why_and_keeps_what_was_typed(sites, page):
    """A token for a site that is not registered is refused with its reason next to the form, which
    keeps the label and sites typed, and no token is made."""
    en = WORDS["en"]
    sign_in(page, sites, lang="en")
    open_tokens_screen(page, "en")
    page.get_by_label(en["label"]).fill(LABEL)
    page.get_by_label(en["token_sites"]).fill("travinh nope")
    page.get_by_role("button", name=en["create"]).click()
    expect(page.get_by_role("alert")).to_contain_text("nope")
    expect(page.get_by_label(en["label"])).to_have_value(LABEL)
    expect(page.get_by_label(en["token_sites"])).to_have_value("travinh nope")
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.get_by_text(en["no_tokens"])).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tokens-refused-en.png"), full_page=True)



@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("width", [390, 1280])
def test_tokens_screen_has_no_serious_accessibility_violation_and_is_photographed(sites, axe_context, lang, width):
    """axe finds nothing serious on the Tokens screen with a fresh secret and with its list, the secret
    fits a phone's width, and both are photographed into tests/artifacts/."""
    page = axe_context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, sites, lang=lang)
    open_tokens_screen(page, lang)
    make_token_by_keyboard(page, lang)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"tokens-new-{lang}-{width}.png"), full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    found = axe_violations(page, f"tokens-new-{lang}-{width}")
    assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, found
    open_tokens_screen(page, lang)
    page.screenshot(path=str(ARTIFACTS / f"tokens-list-{lang}-{width}.png"), full_page=True)
    found = axe_violations(page, f"tokens-list-{lang}-{width}")
    assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, found


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_share_confirm_page_has_no_serious_accessibility_violation_and_keeps_the_session(sites, axe_context, lang):
    """Signed in as the operator, a share link asks first: axe finds nothing serious on that page, and
    "stay" keeps the operator's session."""
    words = WORDS[lang]
    made = sites.client.post("/api/v1/sites/portal/shares", json={"label": "biên tập"}, headers=ADMIN)
    assert made.status_code == 201, made.get_json()
    path = made.get_json()["url"].split("/", 3)[3]
    page = axe_context.new_page()
    sign_in(page, sites, lang=lang)
    page.goto(f"{sites.url}{path}")
    expect(page.locator("h1")).to_have_text(words["share_confirm"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"share-confirm-{lang}.png"), full_page=True)
    found = axe_violations(page, f"share-confirm-{lang}")
    assert not {impact: rules for impact, rules in found.items() if impact in BLOCKING}, found
    page.get_by_role("link", name=words["cancel"]).click()
    expect(page.locator(".who")).to_have_text(words["signed_in_as"].format(who=words["as_operator"]))
