"""The dashboard's words in Vietnamese and English, and numbers and dates as each language writes them."""

from __future__ import annotations

from datetime import date

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

WORDS = {
    "vi": {
        "export_sites": "Tải danh sách (CSV)", "search_sites": "Tìm trang (mã hoặc tên miền)", "search": "Tìm",
        "found": "{n} trang", "group": "Nhóm", "groups": "Theo nhóm", "all_sites": "Tất cả các trang",
        "pages": "Các trang của bảng", "previous": "Trang trước", "next": "Trang sau", "page_of": "Trang {n}/{of}",
        "no_match": "Không có trang nào khớp.", "import_sites": "Nhập nhiều trang", "import_file": "Tệp CSV hoặc JSON",
        "import_help": "CSV với dòng tiêu đề site,domains,timezone,group (các tên miền cách nhau bởi dấu cách). Dòng lỗi không thay đổi gì; các dòng khác được áp dụng.",
        "import": "Nhập", "import_done": "Kết quả nhập", "import_failed": "Không đọc được tệp: {why}",
        "import_no_file": "chưa chọn tệp", "row": "Dòng", "import_errors": "Các dòng lỗi",
        "import_counts": "Tạo mới {created}, cập nhật {updated}, không đổi {unchanged}, lỗi {errors}.",
        "product": "Thống kê truy cập", "dashboard": "Bảng điều khiển", "sites": "Các trang",
        "signin": "Đăng nhập", "signout": "Đăng xuất", "token": "Mã quản trị (ADMIN_TOKEN) hoặc mã trang",
        "signin_help": "Nhập mã quản trị của dịch vụ, hoặc mã trang được cấp cho trang của bạn. "
                       "Người biên tập dùng liên kết chia sẻ do quản trị viên tạo.",
        "wrong_token": "Mã không đúng, đã bị thu hồi hoặc đã hết hạn.", "too_many": "Quá nhiều lần thử. Vui lòng đợi một phút rồi thử lại.",
        "form_expired": "Biểu mẫu đã hết hạn. Vui lòng thử lại.", "disabled": "Bảng điều khiển đang tắt: hãy đặt ADMIN_TOKEN.",
        "signed_out": "Bạn đã đăng xuất.", "session_over": "Phiên làm việc đã hết. Vui lòng đăng nhập lại.",
        "share_invalid": "Liên kết chia sẻ không hợp lệ, đã hết hạn hoặc đã bị thu hồi.",
        "online": "Đang online", "today": "Hôm nay", "yesterday": "Hôm qua", "week": "Trong tuần",
        "month": "Tháng này", "total": "Tất cả", "visits": "Lượt truy cập", "pageviews": "Lượt xem trang",
        "visitors": "Người truy cập", "vs_yesterday": "so với hôm qua", "vs_day_before": "so với hôm kia",
        "vs_last_week": "so với cùng kỳ tuần trước", "vs_last_month": "so với cùng kỳ tháng trước",
        "no_change": "không đổi", "new": "mới", "trend": "Xu hướng", "days": "{n} ngày", "last_days": "{n} ngày qua",
        "chart_title": "Lượt truy cập, lượt xem trang và người truy cập mỗi ngày",
        "chart_help": "Di chuột hoặc dùng phím mũi tên trên biểu đồ để xem số liệu từng ngày.",
        "show_table": "Xem dạng bảng ({n} ngày)", "date": "Ngày", "top": "Tin đọc nhiều",
        "top_today": "Hôm nay", "top_7d": "7 ngày", "top_30d": "30 ngày", "page": "Trang", "views": "Lượt xem",
        "no_pages": "Chưa có lượt xem nào.", "not_counted": "Không được tính",
        "not_counted_help": "Các lượt bị loại (vẫn được trả lời thành công, nên bot không biết).",
        "none_filtered": "Không có lượt nào bị loại trong {n} ngày qua.",
        "bot": "Bot, trình duyệt không giao diện", "prefetch": "Tải trước", "foreign_domain": "Tên miền khác",
        "rate_limited": "Quá nhanh (một người)", "ip_limited": "Quá nhiều (một địa chỉ)",
        "no_user_agent": "Không có User-Agent", "user_agent_too_long": "User-Agent quá dài", "other": "Khác",
        "sum": "Tổng", "export": "Tải CSV", "export_history": "Lịch sử theo ngày (CSV)",
        "export_top": "Tin đọc nhiều (CSV)", "site": "Trang", "open": "Mở", "no_sites": "Chưa có trang nào được đăng ký.",
        "sort_by": "Sắp xếp theo {col}", "read_only": "Chỉ xem (liên kết chia sẻ)", "refreshing": "tự cập nhật",
        "paused": "tạm dừng", "as_of": "Cập nhật lúc {t}", "timezone": "Múi giờ {tz}", "language": "Ngôn ngữ",
        "back": "Tất cả các trang", "error": "Lỗi", "not_allowed": "Bạn không có quyền xem trang này.",
        "unavailable": "Không kết nối được cơ sở dữ liệu. Vui lòng thử lại sau.", "not_found": "Không tìm thấy trang.",
        "skip": "Bỏ qua đến nội dung", "range": "Khoảng thời gian", "filtered_days": "Theo ngày (14 ngày gần nhất)",
        "signed_in_as": "Đăng nhập: {who}", "as_operator": "người vận hành", "as_token": "mã trang “{label}”",
        "as_share": "liên kết chia sẻ của {site}", "share_confirm": "Mở liên kết chia sẻ?",
        "share_confirm_text": "Bạn đang đăng nhập ({who}). Mở liên kết chia sẻ của {site} sẽ kết thúc phiên này.",
        "open_share": "Mở liên kết chia sẻ", "cancel": "Ở lại phiên hiện tại", "tokens": "Mã trang",
        "tokens_intro": "Mỗi mã trang cho phép quản trị viên một hoặc nhiều trang xem số liệu, nhập số liệu cũ và "
                        "chia sẻ các trang đó, không gì khác.",
        "new_token": "Tạo mã trang", "label": "Tên gợi nhớ", "token_sites": "Các trang (mã trang, cách nhau bởi dấu cách)",
        "expires_days": "Hết hạn sau (ngày, để trống: không hết hạn)", "create": "Tạo mã", "revoke": "Thu hồi",
        "token_once": "Mã mới, chỉ hiện một lần: hãy sao chép ngay.", "last_used": "Dùng lần cuối",
        "never": "chưa dùng", "expires": "Hết hạn", "created": "Tạo lúc", "no_tokens": "Chưa có mã trang nào.",
        "token_revoked": "Đã thu hồi mã trang.", "token_bad": "Không tạo được mã: {why}", "why_unknown_site": "trang {site} chưa được đăng ký",
        "sources_title": "Nguồn truy cập", "sources_help": "Mỗi lượt truy cập được tính một lần, theo trang đầu tiên của nó.",
        "detail_period": "Khoảng thời gian của nguồn truy cập và thiết bị", "channels": "Kênh", "channel": "Kênh",
        "top_sources": "{n} nguồn hàng đầu", "source": "Nguồn", "share": "Tỷ lệ", "no_visits": "Chưa có lượt truy cập nào trong khoảng thời gian này.",
        "period_visits": "{period}: {n} lượt truy cập", "devices_title": "Thiết bị", "devices": "Loại thiết bị",
        "browsers": "Trình duyệt", "os": "Hệ điều hành", "apps": "Trình duyệt trong ứng dụng", "the_rest": "Còn lại ({n})",
        "export_sources": "Nguồn truy cập (CSV)", "bad_period": "Khoảng thời gian không hợp lệ.", "export_devices": "Thiết bị (CSV)",
        "channel_direct": "Trực tiếp", "channel_search": "Tìm kiếm", "channel_social": "Mạng xã hội", "channel_email": "Email",
        "channel_internal": "Cổng nội bộ", "channel_referral": "Trang giới thiệu", "channel_campaign": "Chiến dịch",
        "devices_desktop": "Máy tính", "devices_mobile": "Điện thoại", "devices_tablet": "Máy tính bảng",
        "apps_none": "Không (trình duyệt thường)",
        "why_bad_input": "hãy kiểm tra tên, các mã trang và số ngày", "token_already_made": "Mã này đã được tạo (biểu mẫu gửi lại): mã chỉ hiện một lần.",
    },
    "en": {
        "export_sites": "Download the list (CSV)", "search_sites": "Find a site (id or domain)", "search": "Find",
        "found": "{n} sites", "group": "Group", "groups": "By group", "all_sites": "All sites",
        "pages": "Pages of the table", "previous": "Previous", "next": "Next", "page_of": "Page {n} of {of}",
        "no_match": "No site matches.", "import_sites": "Import sites", "import_file": "CSV or JSON file",
        "import_help": "CSV with the header site,domains,timezone,group (domains separated by spaces). A row in error changes nothing; the others apply.",
        "import": "Import", "import_done": "Import report", "import_failed": "The file cannot be read: {why}",
        "import_no_file": "no file chosen", "row": "Row", "import_errors": "Rows in error",
        "import_counts": "Created {created}, updated {updated}, unchanged {unchanged}, errors {errors}.",
        "product": "Visitor statistics", "dashboard": "Dashboard", "sites": "Sites",
        "signin": "Sign in", "signout": "Sign out", "token": "Admin token (ADMIN_TOKEN) or site token",
        "signin_help": "Enter the service's admin token, or the site token made for your sites. "
                       "Editors use a share link an admin made for them.",
        "wrong_token": "That token is not right, or was revoked, or has expired.", "too_many": "Too many attempts. Wait a minute and try again.",
        "form_expired": "The form expired. Please try again.", "disabled": "The dashboard is off: set ADMIN_TOKEN.",
        "signed_out": "You are signed out.", "session_over": "Your session ended. Please sign in again.",
        "share_invalid": "This share link is not valid, has expired or was revoked.",
        "online": "Online now", "today": "Today", "yesterday": "Yesterday", "week": "This week",
        "month": "This month", "total": "All time", "visits": "Visits", "pageviews": "Pageviews",
        "visitors": "Visitors", "vs_yesterday": "vs yesterday", "vs_day_before": "vs the day before",
        "vs_last_week": "vs same days last week", "vs_last_month": "vs same days last month",
        "no_change": "no change", "new": "new", "trend": "Trend", "days": "{n} days", "last_days": "last {n} days",
        "chart_title": "Visits, pageviews and visitors per day",
        "chart_help": "Hover, or focus the chart and use the arrow keys, to read each day's numbers.",
        "show_table": "Show as a table ({n} days)", "date": "Date", "top": "Most read",
        "top_today": "Today", "top_7d": "7 days", "top_30d": "30 days", "page": "Page", "views": "Views",
        "no_pages": "No page views yet.", "not_counted": "Not counted",
        "not_counted_help": "Hits left out (still answered with success, so a bot learns nothing).",
        "none_filtered": "Nothing was left out in the last {n} days.",
        "bot": "Bots, headless browsers", "prefetch": "Prefetch", "foreign_domain": "Foreign domain",
        "rate_limited": "Too fast (one visitor)", "ip_limited": "Too many (one address)",
        "no_user_agent": "No User-Agent", "user_agent_too_long": "User-Agent too long", "other": "Other",
        "sum": "Total", "export": "Download CSV", "export_history": "Daily history (CSV)",
        "export_top": "Most read (CSV)", "site": "Site", "open": "Open", "no_sites": "No site is registered yet.",
        "sort_by": "Sort by {col}", "read_only": "Read only (share link)", "refreshing": "live",
        "paused": "paused", "as_of": "As of {t}", "timezone": "Time zone {tz}", "language": "Language",
        "back": "All sites", "error": "Error", "not_allowed": "You may not see this page.",
        "unavailable": "The database cannot be reached. Please try again shortly.", "not_found": "No such page.",
        "skip": "Skip to content", "range": "Range", "filtered_days": "Per day (last 14 days)",
        "signed_in_as": "Signed in: {who}", "as_operator": "operator", "as_token": "site token “{label}”",
        "as_share": "share link of {site}", "share_confirm": "Open the share link?",
        "share_confirm_text": "You are signed in ({who}). Opening the share link of {site} ends this session.",
        "open_share": "Open the share link", "cancel": "Stay in this session", "tokens": "Site tokens",
        "tokens_intro": "A site token lets the webmaster of one or more sites read their numbers, import older ones "
                        "and share those sites, nothing else.",
        "new_token": "New site token", "label": "Label", "token_sites": "Sites (site ids, separated by spaces)",
        "expires_days": "Expires after (days; empty: never)", "create": "Create", "revoke": "Revoke",
        "token_once": "The new token, shown only this once: copy it now.", "last_used": "Last used",
        "never": "never", "expires": "Expires", "created": "Created", "no_tokens": "No site tokens yet.",
        "token_revoked": "The site token was revoked.", "token_bad": "No token made: {why}", "why_unknown_site": "no site {site} is registered",
        "sources_title": "Where readers come from", "sources_help": "Each visit counts once, by its first page.",
        "detail_period": "Period of sources and devices", "channels": "Channels", "channel": "Channel",
        "top_sources": "Top {n} sources", "source": "Source", "share": "Share", "no_visits": "No visits in this period yet.",
        "period_visits": "{period}: {n} visits", "devices_title": "Devices", "devices": "Device types",
        "browsers": "Browsers", "os": "Operating systems", "apps": "In-app browsers", "the_rest": "The rest ({n})",
        "export_sources": "Sources (CSV)", "bad_period": "No such period.", "export_devices": "Devices (CSV)",
        "channel_direct": "Direct", "channel_search": "Search", "channel_social": "Social", "channel_email": "Email",
        "channel_internal": "Internal portals", "channel_referral": "Referral", "channel_campaign": "Campaign",
        "devices_desktop": "Desktop", "devices_mobile": "Mobile", "devices_tablet": "Tablet",
        "apps_none": "None (a regular browser)",
        "why_bad_input": "check the label, the site ids and the days", "token_already_made": "That token was made already (the form was sent again): it is shown only once.",
    },
}

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = {"vi": ("T2", "T3", "T4", "T5", "T6", "T7", "CN"), "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


class Words:
    """One language's words and number and date formats, for the templates."""

    def __init__(self, lang: str):
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self._words = WORDS[self.lang]

    def __call__(self, key: str, **values) -> str:
        return self._words[key].format(**values) if values else self._words[key]

    def number(self, n: int) -> str:
        """1.234 in Vietnamese, 1,234 in English."""
        text = f"{n:,}"
        return text.replace(",", ".") if self.lang == "vi" else text

    def percent(self, part: int, whole: int) -> str:
        """``part`` as a share of ``whole``: 56%, 5,6% (5.6% in English), <0,1% for a sliver, 0% of nothing."""
        share = part * 100 / whole if whole else 0
        if share >= 9.95 or share == 0:
            text = f"{share:.0f}"
        elif share >= 0.1:
            text = f"{share:.1f}"
        else:
            text = "<0.1"
        return (text.replace(".", ",") if self.lang == "vi" else text) + "%"

    def name_of(self, dimension: str, value: str) -> str:
        """A value of a breakdown ("channel", or a devices list: "devices", "browsers", "os", "apps") in words:
        channels, device types, no app, '(other)' and 'Other' translated; a proper name (Google, Chrome,
        Zalo, a host) as it is."""
        if value in ("Other", "(other)", "other"):
            return self("other")
        return self._words.get(f"{dimension}_{value}", value)

    def change(self, now: int, before: int) -> tuple[str, str]:
        """(text, direction 'up'/'down'/'flat') of ``now`` against ``before``."""
        if before == 0:
            return (self("no_change"), "flat") if now == 0 else (self("new"), "up")
        percent = (now - before) * 100 / before
        if abs(percent) < 0.5:
            return self("no_change"), "flat"
        text = f"{abs(percent):.0f}" if abs(percent) >= 10 else f"{abs(percent):.1f}"
        if self.lang == "vi":
            text = text.replace(".", ",")
        return ("+" if percent > 0 else "−") + text + "%", "up" if percent > 0 else "down"

    def day(self, d: date, weekday: bool = False) -> str:
        """30/11/2026 in Vietnamese, Nov 30, 2026 in English (optionally with the weekday)."""
        text = f"{d.day:02d}/{d.month:02d}/{d.year}" if self.lang == "vi" else f"{MONTHS_EN[d.month - 1]} {d.day}, {d.year}"
        return f"{WEEKDAYS[self.lang][d.weekday()]} {text}" if weekday else text

    def short_day(self, d: date) -> str:
        return f"{d.day}/{d.month}" if self.lang == "vi" else f"{MONTHS_EN[d.month - 1]} {d.day}"
