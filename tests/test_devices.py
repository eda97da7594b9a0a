"""What readers read with: real User-Agents and the device, browser, OS and in-app browser each gets."""

from __future__ import annotations

import random

import pytest

from service.ingest import devices
from service.ingest.devices import MAX_AGENT_CHARS, Device, classify_device
from service.ingest.filters import MAX_USER_AGENT_CHARS

from .user_agents import TEMPLATES

IPHONE_WEBVIEW = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                  "Mobile/15E148")
ANDROID_WEBVIEW = ("Mozilla/5.0 (Linux; Android 13; SM-A536E Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, "
                   "like Gecko) Version/4.0 Chrome/126.0.6478.134 Mobile Safari/537.36")
MAC_SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
              "Safari/605.1.15")


@pytest.mark.parametrize(("agent", "expected"), [
    # desktops
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36", ("desktop", "Chrome", "Windows", "none")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
     ("desktop", "Firefox", "Windows", "none")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Edg/131.0.0.0", ("desktop", "Edge", "Windows", "none")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
     "Safari/537.36 OPR/115.0.0.0", ("desktop", "Opera", "Windows", "none")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) coc_coc_browser/127.0.166 "
     "Chrome/121.0.6167.166 Safari/537.36", ("desktop", "Cốc Cốc", "Windows", "none")),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", ("desktop", "IE", "Windows", "none")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Vivaldi/7.0.3495.18", ("desktop", "Vivaldi", "Windows", "none")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36", ("desktop", "Chrome", "macOS", "none")),
    (MAC_SAFARI, ("desktop", "Safari", "macOS", "none")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
     ("desktop", "Firefox", "macOS", "none")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "coc_coc_browser/128.0.226 Chrome/122.0.6261.226 Safari/537.36", ("desktop", "Cốc Cốc", "macOS", "none")),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
     ("desktop", "Chrome", "Linux", "none")),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
     ("desktop", "Firefox", "Linux", "none")),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36", ("desktop", "Chrome", "Chrome OS", "none")),
    # phones
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
     "Mobile/15E148 Safari/604.1", ("mobile", "Safari", "iOS", "none")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", ("mobile", "Chrome", "iOS", "none")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 "
     "Mobile/15E148 Safari/605.1.15", ("mobile", "Firefox", "iOS", "none")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 "
     "EdgiOS/131.2903.68 Mobile/15E148 Safari/605.1.15", ("mobile", "Edge", "iOS", "none")),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
     "Safari/537.36", ("mobile", "Chrome", "Android", "none")),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 "
     "Chrome/122.0.0.0 Mobile Safari/537.36", ("mobile", "Samsung Internet", "Android", "none")),
    ("Mozilla/5.0 (Linux; Android 13; SM-A146P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.172 Mobile "
     "Safari/537.36 coc_coc_browser/124.0.256", ("mobile", "Cốc Cốc", "Android", "none")),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile "
     "Safari/537.36 OPR/86.0.4524.82428", ("mobile", "Opera", "Android", "none")),
    ("Opera/9.80 (Android; Opera Mini/7.5.33361/31.1448; U; en) Presto/2.8.119 Version/11.1010",
     ("mobile", "Opera Mini", "Android", "none")),
    ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", ("mobile", "Firefox", "Android", "none")),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
     "Safari/537.36 EdgA/131.0.0.0", ("mobile", "Edge", "Android", "none")),
    ("Mozilla/5.0 (Linux; U; Android 11; en-US; RMX3363 Build/RKQ1.211119.001) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Version/4.0 Chrome/100.0.4896.58 UCBrowser/13.4.0.1306 Mobile Safari/537.36",
     ("mobile", "UC Browser", "Android", "none")),
    (ANDROID_WEBVIEW, ("mobile", "Chrome", "Android", "none")),
    ("Mozilla/5.0 (Mobile; Windows Phone 8.1; Android 4.0; ARM; Trident/7.0; Touch; rv:11.0; IEMobile/11.0; NOKIA; "
     "Lumia 930) like iPhone OS 7_0_3 Mac OS X AppleWebKit/537 (KHTML, like Gecko) Mobile Safari/537",
     ("mobile", "IE", "Windows Phone", "none")),
    ("Mozilla/5.0 (Mobile; LYF/F300B/LYF-F300B-001-01-15-130718-i;Android; rv:48.0) Gecko/48.0 Firefox/48.0 "
     "KAIOS/2.5", ("mobile", "Firefox", "KaiOS", "none")),
    # tablets; an iPad in desktop mode is a Mac by its agent (see service/ingest/devices.py)
    ("Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 "
     "Mobile/15E148 Safari/604.1", ("tablet", "Safari", "iOS", "none")),
    ("Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 "
     "Mobile/15E148 Safari/604.1", ("tablet", "Chrome", "iOS", "none")),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
     ("tablet", "Chrome", "Android", "none")),
    ("Mozilla/5.0 (Linux; Android 13; SM-X205) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.230 "
     "Safari/537.36", ("tablet", "Chrome", "Android", "none")),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 "
     "Chrome/115.0.0.0 Safari/537.36", ("tablet", "Samsung Internet", "Android", "none")),
    ("Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", ("tablet", "Firefox", "Android", "none")),
    ("Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/130.4.1 like "
     "Chrome/130.0.6723.102 Safari/537.36", ("tablet", "Amazon Silk", "Android", "none")),
    ("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1; WOW64; Trident/7.0; SLCC2; .NET CLR 2.0.50727; "
     ".NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0; Tablet PC 2.0)", ("desktop", "IE", "Windows", "none")),
    # in-app browsers: the app, and the engine it runs on
    (IPHONE_WEBVIEW + " Zalo iOS/502 ZaloTheme/light ZaloLanguage/vn", ("mobile", "Safari", "iOS", "Zalo")),
    ("Mozilla/5.0 (Linux; Android 14; SM-A155F Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Version/4.0 Chrome/124.0.6367.114 Mobile Safari/537.36 Zalo android/13169 ZaloTheme/light ZaloLanguage/vi",
     ("mobile", "Chrome", "Android", "Zalo")),
    (IPHONE_WEBVIEW + " [FBAN/FBIOS;FBAV/470.0.0.42.108;FBBV/614231386;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;"
     "FBSV/17.5.1;FBSS/3;FBID/phone;FBLC/vi_VN;FBOP/5;FBRV/616107372]", ("mobile", "Safari", "iOS", "Facebook")),
    (ANDROID_WEBVIEW + " [FB_IAB/FB4A;FBAV/472.0.0.48.109;]", ("mobile", "Chrome", "Android", "Facebook")),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
     "[FBAN/FBIOS;FBAV/470.0.0.42.108;FBBV/614231386;FBDV/iPad13,18;FBMD/iPad;FBSN/iPadOS;FBSV/17.5;FBSS/2;"
     "FBID/tablet;FBLC/vi_VN;FBOP/5;FBRV/0]", ("tablet", "Safari", "iOS", "Facebook")),
    (IPHONE_WEBVIEW + " LightSpeed [FBAN/MessengerLiteForiOS;FBAV/466.0.0.39.107;FBBV/610425012;FBDV/iPhone13,2;"
     "FBMD/iPhone;FBSN/iOS;FBSV/17.5.1;FBSS/3;FBCR/;FBID/phone;FBLC/vi_VN;FBOP/0]",
     ("mobile", "Safari", "iOS", "Messenger")),
    (ANDROID_WEBVIEW + " [FB_IAB/Orca-Android;FBAV/466.0.0.41.109;]", ("mobile", "Chrome", "Android", "Messenger")),
    (IPHONE_WEBVIEW + " Instagram 339.0.3.12.91 (iPhone14,5; iOS 17_5_1; vi_VN; vi; scale=3.00; 1170x2532; 618356394)",
     ("mobile", "Safari", "iOS", "Instagram")),
    ("Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Version/4.0 Chrome/126.0.6478.134 Mobile Safari/537.36 Instagram 339.0.0.38.101 Android (33/13; 420dpi; "
     "1080x2186; samsung; SM-G991B; o1s; exynos2100; vi_VN; 620183270)", ("mobile", "Chrome", "Android", "Instagram")),
    ("Mozilla/5.0 (Linux; Android 12; 2201117TG Build/SKQ1.211103.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36 trill_330304 JsSdk/1.0 NetType/WIFI Channel/googleplay "
     "AppName/musical_ly app_version/33.3.4 ByteLocale/vi ByteFullLocale/vi Region/VN BytedanceWebview/d8a21c6",
     ("mobile", "Chrome", "Android", "TikTok")),
    (IPHONE_WEBVIEW + " musical_ly_35.1.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/vi Region/VN "
     "isDarkMode/0 WKWebView/1 RevealType/Dialog BytedanceWebview/d8a21c6", ("mobile", "Safari", "iOS", "TikTok")),
    (IPHONE_WEBVIEW + " Safari Line/14.9.1", ("mobile", "Safari", "iOS", "LINE")),
    (ANDROID_WEBVIEW + " Line/14.9.1/IAB", ("mobile", "Chrome", "Android", "LINE")),
    (IPHONE_WEBVIEW + " Twitter for iPhone/10.48", ("mobile", "Safari", "iOS", "X")),
    (IPHONE_WEBVIEW + " Snapchat/13.0.0.43 (like Safari/8618.2.12.10.7, panda)", ("mobile", "Safari", "iOS", "Snapchat")),
    # neither desktop nor mobile
    ("Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV "
     "Safari/537.36", ("other", "Other", "Tizen", "none")),
    ("Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 Safari/537.36 "
     "WebAppManager", ("other", "Chrome", "webOS", "none")),
    ("Mozilla/5.0 (Linux; Android 11; BRAVIA 4K VH2 Build/RTM6.230109.A3; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36", ("other", "Chrome", "Android", "none")),
    ("Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7633; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
     "Chrome/120.0.6099.230 Mobile Safari/537.36", ("other", "Chrome", "Android", "none")),
    ("Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
     ("other", "Other", "Other", "none")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041", ("other", "Edge", "Windows", "none")),
    # junk
    ("", ("other", "Other", "Other", "none")),
    ("hello", ("other", "Other", "Other", "none")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36 ☺", ("desktop", "Chrome", "Windows", "none")),
])
def test_classify_device(agent, expected):
    """Each agent gets its device type, browser and OS families, and the app whose browser it is."""
    assert classify_device(agent) == Device(*expected)


def test_ipad_in_desktop_mode_is_a_mac():
    """iPadOS's default desktop-mode agent is Safari on a Mac, byte for byte: it counts as a desktop."""
    assert classify_device(MAC_SAFARI) == Device("desktop", "Safari", "macOS", "none")


@pytest.mark.parametrize("template", ["zalo android", "zalo ios", "facebook android", "facebook ios",
                                      "messenger ios", "instagram android", "instagram ios", "tiktok", "line"])
def test_generated_in_app_agents_name_their_app(template):
    """Every agent the crawler tests generate for an in-app browser names that app, on a phone."""
    expected = {"zalo": "Zalo", "facebook": "Facebook", "messenger": "Messenger", "instagram": "Instagram",
                "tiktok": "TikTok", "line": "LINE"}[template.split()[0]]
    r = random.Random(7)
    for _ in range(50):
        device = devices.parse(TEMPLATES[template](r))
        assert (device.app, device.device) == (expected, "mobile")
        assert device.browser in ("Safari", "Chrome")


def test_agent_read_is_capped():
    """Agents past the filters' cap are read up to it: the cap bounds the work and the cache's keys."""
    assert MAX_AGENT_CHARS == MAX_USER_AGENT_CHARS
    agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + "x" * 10_000 + " Zalo iOS/502"
    assert classify_device(agent) == Device("desktop", "Other", "Windows", "none")


def test_cache_stays_within_its_bytes():
    """A flood of agents never seen before keeps the cache within its budget in bytes."""
    cache = devices._cache
    for i in range(6_000):  # letters that differ: a shape each (numbers alone would share one)
        word = "".join(chr(97 + int(digit)) for digit in f"{i:05d}")
        classify_device(f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36 {word}")
    assert 0 < cache.bytes <= devices.AGENT_CACHE_MAX_BYTES
    assert 1_000 < len(cache) < 6_000
