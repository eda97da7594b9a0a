"""Where readers come from: real referrers, page queries and in-app browsers, and the channel and name each gets."""

from __future__ import annotations

import pytest
import yaml

from service.ingest import sources
from service.ingest.sources import MAX_CAMPAIGN_CHARS, MAX_REFERRER_CHARS, Source, classify_source

OWN = {"travinh.gov.vn", "www.travinh.gov.vn"}
SIBLINGS = {"sotttt.travinh.gov.vn", "xn--bnh-dng-zya74nje.vn"}
LONG_HOST = ".".join(["a" * 60] * 5) + ".vn"       # 308 characters: past DNS's 253


def own_host(host: str) -> bool:
    return host in OWN


def internal_host(host: str) -> bool:
    return host in SIBLINGS


@pytest.mark.parametrize(("referrer", "query", "app", "expected"), [
    # search engines, on their country domains and apps
    ("https://www.google.com/", "", "none", ("search", "Google")),
    ("https://www.google.com.vn/", "", "none", ("search", "Google")),
    ("https://www.google.co.uk/", "", "none", ("search", "Google")),
    ("https://www.google.de/url?sa=t&url=https://travinh.gov.vn/", "", "none", ("search", "Google")),
    ("android-app://com.google.android.googlequicksearchbox/https/www.google.com", "", "none", ("search", "Google")),
    ("https://news.google.com/", "", "none", ("search", "Google News")),
    ("https://coccoc.com/search?query=t%C3%A0+vinh#query=tr%C3%A0%20vinh", "", "none", ("search", "Cốc Cốc")),
    ("https://www.bing.com/search?q=tra+vinh&form=QBLH", "", "none", ("search", "Bing")),
    ("https://r.search.yahoo.com/_ylt=AwrFRA/RV=2/RE=1700000000/RO=10/RU=https%3a%2f%2ftravinh.gov.vn%2f/RK=2/RS=x-",
     "", "none", ("search", "Yahoo")),
    ("https://duckduckgo.com/", "", "none", ("search", "DuckDuckGo")),
    ("https://yandex.ru/search/?text=vietnam", "", "none", ("search", "Yandex")),
    ("https://www.baidu.com/link?url=abc", "", "none", ("search", "Baidu")),
    ("https://search.naver.com/search.naver?query=vietnam", "", "none", ("search", "Naver")),
    ("https://www.ecosia.org/", "", "none", ("search", "Ecosia")),
    # social networks and their short links
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Ftravinh.gov.vn%2F&h=AT0x", "", "none", ("social", "Facebook")),
    ("https://lm.facebook.com/l.php?u=https%3A%2F%2Ftravinh.gov.vn%2F", "", "none", ("social", "Facebook")),
    ("https://m.facebook.com/", "", "none", ("social", "Facebook")),
    ("https://www.facebook.com/", "", "none", ("social", "Facebook")),
    ("https://fb.com/", "", "none", ("social", "Facebook")),
    ("android-app://com.facebook.katana/", "", "none", ("social", "Facebook")),
    ("android-app://com.facebook.orca", "", "none", ("social", "Messenger")),
    ("android-app://com.zing.zalo/", "", "none", ("social", "Zalo")),
    ("https://zalo.me/", "", "none", ("social", "Zalo")),
    ("https://chat.zalo.me/", "", "none", ("social", "Zalo")),
    ("https://t.co/AbCdEf123", "", "none", ("social", "X")),
    ("https://x.com/", "", "none", ("social", "X")),
    ("https://www.youtube.com/", "", "none", ("social", "YouTube")),
    ("https://m.youtube.com/watch?v=dQw4w9WgXcQ", "", "none", ("social", "YouTube")),
    ("https://www.tiktok.com/", "", "none", ("social", "TikTok")),
    ("android-app://com.zhiliaoapp.musically/", "", "none", ("social", "TikTok")),
    ("https://www.linkedin.com/", "", "none", ("social", "LinkedIn")),
    ("https://l.instagram.com/?u=https%3A%2F%2Ftravinh.gov.vn", "", "none", ("social", "Instagram")),
    ("https://www.reddit.com/r/VietNam/", "", "none", ("social", "Reddit")),
    ("https://web.telegram.org/", "", "none", ("social", "Telegram")),
    ("https://l.threads.net/", "", "none", ("social", "Threads")),
    ("https://www.pinterest.com/", "", "none", ("social", "Pinterest")),
    # mail services
    ("https://mail.google.com/", "", "none", ("email", "Gmail")),
    ("android-app://com.google.android.gm/", "", "none", ("email", "Gmail")),
    ("https://outlook.live.com/", "", "none", ("email", "Outlook")),
    ("https://outlook.office.com/", "", "none", ("email", "Outlook")),
    ("https://outlook.office365.com/", "", "none", ("email", "Outlook")),
    ("https://mail.yahoo.com/", "", "none", ("email", "Yahoo Mail")),
    # any other site: its host, lower case, without www., in Unicode
    ("https://baochinhphu.vn/thu-tuong-chu-tri-hop-102240101.htm", "", "none", ("referral", "baochinhphu.vn")),
    ("https://WWW.Chinhphu.VN/?pageid=27160&docid=1", "", "none", ("referral", "chinhphu.vn")),
    ("http://user:secret@www.moh.gov.vn:8080/web/guest", "", "none", ("referral", "moh.gov.vn")),
    ("https://xn--bcher-kva.de/", "", "none", ("referral", "bücher.de")),
    ("https://www.xn--cc-cc-r91bd.vn/", "", "none", ("referral", "cốc-cốc.vn")),
    ("https://google.example.com/", "", "none", ("referral", "google.example.com")),
    ("https://docs.google.com/forms/d/e/1FAIpQL/viewform", "", "none", ("referral", "docs.google.com")),
    ("https://www.cnn.com/", "", "none", ("referral", "cnn.com")),
    ("https://chatgpt.com/", "", "none", ("search", "ChatGPT")),           # so Matomo says
    ("https://claude.ai/", "", "none", ("referral", "claude.ai")),          # Matomo's AI list is not ours
    ("https://www.perplexity.ai/", "", "none", ("search", "Perplexity")),
    ("http://192.168.1.10/intranet", "", "none", ("referral", "192.168.1.10")),
    ("https://baochinhphu.vn./", "", "none", ("referral", "baochinhphu.vn")),
    # the site itself and the service's other sites
    ("https://travinh.gov.vn/tin-tuc/abc", "", "none", ("direct", "")),
    ("https://www.travinh.gov.vn/", "", "Zalo", ("direct", "")),
    ("https://sotttt.travinh.gov.vn/", "", "none", ("internal", "sotttt.travinh.gov.vn")),
    ("https://xn--bnh-dng-zya74nje.vn/", "", "none", ("internal", "bình-dương.vn")),
    # campaigns win over the referrer
    ("https://www.google.com/", "utm_source=Zalo_OA&utm_medium=social&utm_campaign=tet", "none",
     ("campaign", "zalo_oa")),
    ("", "id=12&utm_source=%20Newsletter%20", "none", ("campaign", "newsletter")),
    ("", "utm_source=B%C3%A1o+M%E1%BB%9Bi", "Zalo", ("campaign", "báo mới")),
    ("", "utm_source=" + "x" * 500, "none", ("campaign", "x" * MAX_CAMPAIGN_CHARS)),
    ("https://www.google.com/", "utm_source=", "none", ("search", "Google")),
    ("https://www.google.com/", "utm_source_platform=x&xutm_source=y", "none", ("search", "Google")),
    # no referrer: the in-app browser's app, or direct
    ("", "", "Zalo", ("social", "Zalo")),
    ("", "", "Facebook", ("social", "Facebook")),
    ("", "", "none", ("direct", "")),
    ("android-app://com.example.unknown/", "", "none", ("direct", "")),
    ("android-app://com.example.unknown/", "", "Zalo", ("social", "Zalo")),
    # junk: never raises, never keeps more than a sane name
    ("javascript:alert(document.cookie)", "", "none", ("direct", "")),
    ("about:blank", "", "none", ("direct", "")),
    ("file:///C:/Users/a/Desktop/index.html", "", "none", ("direct", "")),
    ("/tin-tuc/abc", "", "none", ("direct", "")),
    ("not a url at all", "", "none", ("direct", "")),
    ("https://", "", "none", ("direct", "")),
    ("https:///path", "", "none", ("direct", "")),
    ("https://exa mple.com/", "", "none", ("direct", "")),
    ("https://<script>.com/", "", "none", ("direct", "")),
    ("https://-bad-.com/", "", "none", ("direct", "")),
    ("https://" + LONG_HOST + "/", "", "none", ("direct", "")),
    ("https://" + "a" * 64 + ".vn/", "", "none", ("direct", "")),
    ("https://" + "a" * 10_000, "", "none", ("direct", "")),
    ("https://baochinhphu.vn/" + "a" * 1_000_000, "", "none", ("referral", "baochinhphu.vn")),
    ("https://[::1]:8080/", "", "none", ("referral", "::1")),
    ("https://[v1.x]/", "", "none", ("direct", "")),
    ("https://xn--zz-zzz.vn/", "", "none", ("referral", "xn--zz-zzz.vn")),
    ("https://\u0000evil.com/", "", "none", ("direct", "")),
])
def test_classify_source(referrer, query, app, expected):
    """Each referrer, page query and app gets its channel and name, and nothing of a path or query."""
    assert classify_source(referrer, query, app, own_host, internal_host) == Source(*expected)


def test_referrer_read_is_capped():
    """A host past the referrer cap is not read: the cap bounds the work, whatever the referrer's length."""
    referrer = "https://" + "a" * MAX_REFERRER_CHARS + ".vn/"
    assert classify_source(referrer, "", "none", own_host, internal_host) == Source("direct", "")


def test_vendored_lists_load_and_name_coc_coc():
    """Matomo's lists load with PyYAML, unchanged, and name Cốc Cốc among the search engines."""
    engines = yaml.safe_load((sources.DATA / "SearchEngines.yml").read_text("utf-8"))
    assert "coccoc.com" in engines["Cốc Cốc"][0]["urls"]
    assert sources.table().hosts["coccoc.com"] == Source("search", "Cốc Cốc")
    assert sources.table().any_tld["google"] == Source("search", "Google")


def test_known_host_is_cached():
    """A host's facts are worked out once: the second hit from it is a cache lookup."""
    classify_source("https://cached-once.example.vn/a", "", "none", own_host, internal_host)
    facts = sources._host_cache.get("cached-once.example.vn")
    assert facts is not None and facts.display == "cached-once.example.vn"
    assert sources._host_cache.bytes <= sources.HOST_CACHE_MAX_BYTES
