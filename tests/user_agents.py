"""Real browser User-Agents for the crawler tests: real templates × versions, generated deterministically."""

from __future__ import annotations

import json
import random
from importlib import resources

ANDROID_DEVICES = ("SM-A525F", "SM-G991B", "SM-A536E", "SM-S918B", "SM-A146P", "Redmi Note 8", "Redmi Note 11",
                   "M2101K6G", "23021RAA2Y", "CPH2239", "CPH2185", "vivo 1906", "V2027", "Pixel 7", "Pixel 8 Pro",
                   "RMX3363", "2201117TG", "TECNO KG5", "Infinix X6816", "moto g(30)", "Nokia G21", "itel A662L")
ANDROID_BUILDS = ("TP1A.220624.014", "SP1A.210812.016", "UP1A.231005.007", "RKQ1.211119.001", "QP1A.190711.020",
                  "AP2A.240805.005")
WINDOWS = ("Windows NT 10.0; Win64; x64", "Windows NT 6.1; Win64; x64", "Windows NT 10.0; WOW64",
           "Windows NT 6.3; Win64; x64")
MAC_OS = ("10_15_7", "14_4_1", "13_6_3", "12_7_4", "11_7_10")
IPHONES = ("iPhone12,1", "iPhone13,2", "iPhone14,5", "iPhone15,2", "iPhone16,1")
LOCALES = ("vi_VN", "en_US", "en_GB", "fr_FR")


def _chrome(r: random.Random) -> str:
    return f"{r.randint(100, 131)}.0.{r.randint(4000, 6800)}.{r.randint(0, 220)}"


def _ios(r: random.Random) -> tuple[str, str]:
    major, minor = r.randint(14, 18), r.randint(0, 7)
    return f"{major}_{minor}", f"{major}.{minor}"


def _android_webview(r: random.Random) -> str:
    return (f"Mozilla/5.0 (Linux; Android {r.randint(9, 15)}; {r.choice(ANDROID_DEVICES)} Build/"
            f"{r.choice(ANDROID_BUILDS)}; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
            f"Chrome/{_chrome(r)} Mobile Safari/537.36")


def _ios_webview(r: random.Random) -> str:
    ios, _ = _ios(r)
    return (f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148")


TEMPLATES = {
    "chrome windows": lambda r: (f"Mozilla/5.0 ({r.choice(WINDOWS)}) AppleWebKit/537.36 (KHTML, like Gecko) "
                                 f"Chrome/{_chrome(r)} Safari/537.36"),
    "chrome mac": lambda r: (f"Mozilla/5.0 (Macintosh; Intel Mac OS X {r.choice(MAC_OS)}) AppleWebKit/537.36 "
                             f"(KHTML, like Gecko) Chrome/{_chrome(r)} Safari/537.36"),
    "chrome linux / chromeos": lambda r: (f"Mozilla/5.0 ({r.choice(('X11; Linux x86_64', 'X11; CrOS x86_64 14541.0.0'))}) "
                                          f"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{_chrome(r)} Safari/537.36"),
    "chrome android": lambda r: (f"Mozilla/5.0 (Linux; Android {r.randint(9, 15)}; {r.choice(ANDROID_DEVICES + ('K',))}) "
                                 f"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{_chrome(r)} Mobile Safari/537.36"),
    "edge": lambda r: (f"Mozilla/5.0 ({r.choice(WINDOWS)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{_chrome(r)} "
                       f"Safari/537.36 Edg/{_chrome(r)}"),
    "edge android": lambda r: (f"Mozilla/5.0 (Linux; Android {r.randint(10, 14)}; K) AppleWebKit/537.36 (KHTML, like "
                               f"Gecko) Chrome/{_chrome(r)} Mobile Safari/537.36 EdgA/{_chrome(r)}"),
    "opera": lambda r: (f"Mozilla/5.0 ({r.choice(WINDOWS)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{_chrome(r)} "
                        f"Safari/537.36 OPR/{r.randint(95, 115)}.0.{r.randint(1000, 5000)}.{r.randint(0, 99)}"),
    "coc coc desktop": lambda r: (f"Mozilla/5.0 ({r.choice(WINDOWS)}) AppleWebKit/537.36 (KHTML, like Gecko) "
                                  f"coc_coc_browser/{r.randint(100, 130)}.0.{r.randint(100, 300)} "
                                  f"Chrome/{_chrome(r)} Safari/537.36"),
    "coc coc android": lambda r: (f"Mozilla/5.0 (Linux; Android {r.randint(9, 14)}; {r.choice(ANDROID_DEVICES)}) "
                                  f"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{_chrome(r)} Mobile Safari/537.36 "
                                  f"coc_coc_browser/{r.randint(100, 130)}.0.{r.randint(100, 300)}"),
    "firefox": lambda r: (lambda v: f"Mozilla/5.0 ({r.choice(WINDOWS + ('X11; Linux x86_64', 'X11; Ubuntu; Linux x86_64'))}; "
                          f"rv:{v}.0) Gecko/20100101 Firefox/{v}.0")(r.randint(100, 133)),
    "firefox android": lambda r: (lambda v: f"Mozilla/5.0 (Android {r.randint(9, 15)}; Mobile; rv:{v}.0) "
                                  f"Gecko/{v}.0 Firefox/{v}.0")(r.randint(100, 133)),
    "safari mac": lambda r: (f"Mozilla/5.0 (Macintosh; Intel Mac OS X {r.choice(MAC_OS)}) AppleWebKit/605.1.15 "
                             f"(KHTML, like Gecko) Version/{r.randint(14, 18)}.{r.randint(0, 6)} Safari/605.1.15"),
    "safari ios": lambda r: (lambda ios: f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios[0]} like Mac OS X) "
                             f"AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{ios[1]} Mobile/15E148 "
                             f"Safari/604.1")(_ios(r)),
    "safari ipad": lambda r: (lambda ios: f"Mozilla/5.0 (iPad; CPU OS {ios[0]} like Mac OS X) AppleWebKit/605.1.15 "
                              f"(KHTML, like Gecko) Version/{ios[1]} Mobile/15E148 Safari/604.1")(_ios(r)),
    "chrome ios": lambda r: (f"Mozilla/5.0 (iPhone; CPU iPhone OS {_ios(r)[0]} like Mac OS X) AppleWebKit/605.1.15 "
                             f"(KHTML, like Gecko) CriOS/{_chrome(r)} Mobile/15E148 Safari/604.1"),
    "firefox ios": lambda r: (f"Mozilla/5.0 (iPhone; CPU iPhone OS {_ios(r)[0]} like Mac OS X) AppleWebKit/605.1.15 "
                              f"(KHTML, like Gecko) FxiOS/{r.randint(100, 133)}.0 Mobile/15E148 Safari/605.1.15"),
    "samsung internet": lambda r: (f"Mozilla/5.0 (Linux; Android {r.randint(10, 14)}; {r.choice(ANDROID_DEVICES[:5])}) "
                                   f"AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{r.randint(18, 26)}.0 "
                                   f"Chrome/{_chrome(r)} Mobile Safari/537.36"),
    "miui / huawei / uc": lambda r: r.choice((
        f"Mozilla/5.0 (Linux; U; Android {r.randint(9, 13)}; vi-vn; {r.choice(ANDROID_DEVICES)} Build/"
        f"{r.choice(ANDROID_BUILDS)}) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{_chrome(r)} "
        f"Mobile Safari/537.36 XiaoMi/MiuiBrowser/{r.randint(12, 18)}.{r.randint(0, 9)}.{r.randint(0, 30)}-gn",
        f"Mozilla/5.0 (Linux; Android {r.randint(9, 12)}; HarmonyOS; NOH-AN00; HMSCore 6.{r.randint(1, 13)}.0.302) "
        f"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{_chrome(r)} HuaweiBrowser/{r.randint(12, 15)}.0.4.301 "
        "Mobile Safari/537.36",
        f"Mozilla/5.0 (Linux; U; Android {r.randint(9, 13)}; en-US; {r.choice(ANDROID_DEVICES)} Build/"
        f"{r.choice(ANDROID_BUILDS)}) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{_chrome(r)} "
        f"UCBrowser/13.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(1000, 1400)} Mobile Safari/537.36")),
    "zalo android": lambda r: (f"{_android_webview(r)} Zalo android/{r.randint(12000000, 12200000)} "
                               f"ZaloTheme/{r.choice(('light', 'dark'))} ZaloLanguage/{r.choice(('vi', 'en'))}"),
    "zalo ios": lambda r: (f"{_ios_webview(r)} Zalo iOS/{r.randint(400, 520)} ZaloTheme/{r.choice(('light', 'dark'))} "
                           f"ZaloLanguage/{r.choice(('vi', 'en'))}"),
    "facebook android": lambda r: (f"{_android_webview(r)} [FB_IAB/FB4A;FBAV/{r.randint(400, 480)}.0.0."
                                   f"{r.randint(10, 60)}.{r.randint(100, 120)};]"),
    "facebook ios": lambda r: (lambda ios: f"{_ios_webview(r)} [FBAN/FBIOS;FBAV/{r.randint(400, 480)}.0.0."
                               f"{r.randint(10, 60)}.{r.randint(100, 120)};FBBV/{r.randint(500000000, 600000000)};"
                               f"FBDV/{r.choice(IPHONES)};FBMD/iPhone;FBSN/iOS;FBSV/{ios[1]};FBSS/3;FBID/phone;"
                               f"FBLC/{r.choice(LOCALES)};FBOP/5;FBRV/{r.randint(500000000, 600000000)}]")(_ios(r)),
    "messenger ios": lambda r: (f"{_ios_webview(r)} LightSpeed [FBAN/MessengerLiteForiOS;FBAV/{r.randint(400, 480)}"
                                f".0.0.{r.randint(10, 60)}.{r.randint(100, 120)};FBBV/{r.randint(500000000, 600000000)};"
                                f"FBDV/{r.choice(IPHONES)};FBMD/iPhone;FBSN/iOS;FBSV/{_ios(r)[1]};FBSS/3;FBCR/;"
                                f"FBID/phone;FBLC/{r.choice(LOCALES)};FBOP/0]"),
    "instagram android": lambda r: (f"{_android_webview(r)} Instagram {r.randint(280, 350)}.0.0.{r.randint(10, 50)}."
                                    f"{r.randint(100, 120)} Android ({r.randint(28, 34)}/{r.randint(9, 14)}; "
                                    f"{r.choice(('420dpi', '480dpi', '560dpi'))}; 1080x{r.choice((2186, 2340, 2400))}; "
                                    f"samsung; {r.choice(ANDROID_DEVICES[:5])}; o1s; exynos2100; {r.choice(LOCALES)}; "
                                    f"{r.randint(500000000, 600000000)})"),
    "instagram ios": lambda r: (lambda ios: f"{_ios_webview(r)} Instagram {r.randint(280, 350)}.0.0."
                                f"{r.randint(10, 50)}.{r.randint(100, 120)} ({r.choice(IPHONES)}; iOS {ios[0]}; "
                                f"{r.choice(LOCALES)}; vi; scale=3.00; 1170x2532; {r.randint(500000000, 600000000)})")(_ios(r)),
    "tiktok": lambda r: (f"{_android_webview(r)} trill_{r.randint(300000, 340000)} "
                         f"JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/musical_ly app_version/{r.randint(30, 34)}."
                         f"{r.randint(0, 9)}.{r.randint(0, 9)} ByteLocale/vi ByteFullLocale/vi Region/VN "
                         "BytedanceWebview/d8a21c6"),
    "line": lambda r: f"{_ios_webview(r)} Safari Line/{r.randint(12, 14)}.{r.randint(0, 20)}.{r.randint(0, 3)}",
}
"""Browsers and in-app WebViews seen on Vietnamese portals; each fills its versions and devices from ``r``."""

UNUSUAL = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 ☺",
    "Mozilla/5.0 (Linux; Android 13; Điện thoại của Hà) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) ünïcödé",
    "Mozilla/5.0 \u212aHTML, Ro\u017fbot",              # Kelvin sign and long s: Python's re folds them to k and s
    "Mozilla/5.0 Safari/١٢٣ Chrome",                    # Arabic-Indic digits: \d in Python matches them
    "Go ١.٢ package http", "Go 1.2 package http", "Go x package http",
    "Mozilla/5.0\xa0(compatible;\xa0Googlebot/2.1)", "Mozilla/5.0 (X11; Linux x86_64)\x85 Firefox/120.0",
    "Mozilla/5.0 (İPhone) bİt", "ıava/1.8", "Mozilla/5.0 \u0130ava/1.8 xſpider", "Yandex\u212aSearch",
    "xbSafari/1.0ot",                                   # the exclusion's deletion joins "b" and "ot"
    "Mozilla/5.0Java/1.8.0",                            # ^Java\/ only once the leading exclusion is gone
    "Mozilla/5.0 (Linux; Android 12; cubot X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0 Mobile",
    "Mozilla/5.0 (Linux; U; Android 4.4; HTC_botdugls) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0",
    "YandexSearch/9.0", "Yandex/1.01.001", "YaBrowser/24.1 Yandex", "Mozilla/5.0 (compatible; YandexBot/3.0)",
    "DebugBear", "DebugBear ", "xDebugBear", "b0t", " b0t ", "b0t x", "Ruby", "my Ruby/3.2",
    "Mozilla/5.0 Safari/537.36\tbot", "Mozilla", "Safari", "a", "b", "KHTML, like Gecko", "Opera Mini/7.5.33361/31.1.",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148 crawler", "headless", "HeadlessChrome/131",
]
"""Hand-made edge cases: non-ASCII text, Unicode case folding and digits, deletions that join words, anchors."""


def browser_agents(per_template: int = 160, seed: int = 11) -> list[str]:
    """Distinct browser User-Agents, the same list on every run."""
    r = random.Random(seed)
    seen: dict[str, None] = {}
    for template in TEMPLATES.values():
        wanted = len(seen) + per_template
        for _ in range(per_template * 3):
            seen.setdefault(template(r), None)
            if len(seen) == wanted:
                break
    return list(seen)


def crawler_examples() -> list[str]:
    """Every example agent of the crawler-user-agents package (its 'instances')."""
    data = json.loads((resources.files("crawleruseragents") / "crawler-user-agents.json").read_text())
    return sorted({agent for entry in data for agent in entry.get("instances", [])})


def fixture_agents() -> dict[str, list[str]]:
    """The agreement fixture by origin: crawler examples, generated browsers, edge cases."""
    return {"crawler-user-agents examples": crawler_examples(), "browsers (generated)": browser_agents(),
            "edge cases": UNUSUAL}
