"""What the gateway tells a child about their case, and the console's labels.

Honest about waiting (an estimate, never a promise), always with 111 (free,
24/7), a counsellor named by first name or alias only.
"""

from __future__ import annotations

import math


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def waiting(expected_seconds: int, ahead: int) -> str:
    queue = f" Hiện có {ahead} bạn đang chờ trước em." if ahead else ""
    return (
        f"Tư vấn viên sẽ vào ngay khi có người rảnh; có thể em phải chờ khoảng "
        f"{_minutes(expected_seconds)} phút.{queue} Trong lúc chờ, em cứ nhắn cho mình nhé. "
        "Nếu em muốn nói chuyện với người thật ngay, em gọi 111 (miễn phí, 24/7)."
    )


def out_of_hours(hours: str) -> str:
    return (
        f"Bây giờ là ngoài giờ tư vấn viên trực tin nhắn ở đây (từ {hours}), nên có thể "
        "chưa ai vào được ngay. Em hãy gọi 111: tổng đài nghe máy cả ngày lẫn đêm, miễn phí. "
        "Mình vẫn ở đây nhắn tin với em."
    )


def still_waiting(expected_seconds: int) -> str:
    return (
        "Mình xin lỗi vì em phải chờ lâu. Các tư vấn viên đều đang bận, có thể em phải chờ "
        f"thêm khoảng {_minutes(expected_seconds)} phút nữa. Nếu em cần nói chuyện ngay, "
        "em gọi 111 (miễn phí, 24/7). Mình vẫn ở đây với em."
    )


def joined(name: str) -> str:
    return (
        f"Tư vấn viên {name} của Tổng đài 111 đã vào cuộc trò chuyện. Từ giờ em đang nhắn "
        "với một người thật. Em cứ kể nhé."
    )


def transferred(name: str) -> str:
    return f"Tư vấn viên {name} sẽ tiếp tục trò chuyện với em."


def closed(name: str) -> str:
    return f"Tư vấn viên {name} đã kết thúc cuộc trò chuyện. Cảm ơn em đã tin tưởng và chia sẻ."


CLOSED_UNANSWERED = (
    "Xin lỗi em, lúc này chưa có tư vấn viên nào vào trò chuyện được. Em hãy gọi 111 (miễn phí, "
    "24/7) để nói chuyện với người thật. Mình vẫn ở đây nếu em muốn nhắn tiếp."
)

# Used when Rasa cannot give its own check-in after a case is closed.
CHECK_IN_FALLBACK = (
    "Mình là Mây, mình quay lại trò chuyện với em đây. Bây giờ em thấy thế nào? "
    "Khi nào cần, em cứ nhắn cho mình, hoặc gọi 111 (miễn phí, 24/7)."
)

# ---- the console ----------------------------------------------------------------------

RISK_LABELS = {"imminent": "Khẩn cấp", "high": "Cao", "concern": "Theo dõi"}
STATUS_LABELS = {"waiting": "Đang chờ", "active": "Đang tư vấn", "closed": "Đã đóng",
                 "declined": "Trẻ từ chối"}
ROLE_LABELS = {"counsellor": "Tư vấn viên", "supervisor": "Giám sát", "admin": "Quản trị",
               "editor": "Biên tập nội dung"}
CHANNEL_LABELS = {"web": "Web", "telegram": "Telegram", "zalo": "Zalo"}
SENDER_LABELS = {"user": "Trẻ", "bot": "Mây (bot)", "counsellor": "Tư vấn viên", "system": "Hệ thống"}
CATEGORY_LABELS = {
    "physical_violence": "Bạo lực thể chất",
    "sexual_abuse": "Xâm hại tình dục",
    "grooming": "Dụ dỗ, làm quen để xâm hại",
    "sextortion": "Tống tiền bằng ảnh",
    "neglect": "Bỏ mặc",
    "trafficking": "Mua bán người",
    "exploitation": "Bóc lột",
    "forced_marriage": "Ép kết hôn",
    "suicide_plan": "Ý định tự tử",
    "suicide_ideation": "Ý nghĩ tự tử",
    "suicide_means": "Tự tử: có phương tiện",
    "self_harm": "Tự làm hại bản thân",
    "imminent_danger": "Nguy hiểm tức thời",
    "emotional_distress": "Khủng hoảng cảm xúc",
    "bullying": "Bắt nạt",
    "mental_health": "Sức khỏe tinh thần",
    "abuse": "Bị xâm hại",
    "report_other": "Báo tin về trẻ khác",
    "request": "Muốn gặp tư vấn viên",
}
# Outcomes a counsellor chooses when closing.
OUTCOMES = {
    "supported": "Đã hỗ trợ, trẻ an toàn",
    "referred": "Đã chuyển cơ quan chức năng / cấp xã",
    "emergency": "Đã gọi 113 / 115",
    "callback_111": "Tổng đài 111 sẽ gọi lại",
    "child_left": "Trẻ rời cuộc trò chuyện",
    "no_concern": "Không có nguy cơ",
    "other": "Khác (xem ghi chú)",
}
EVENT_LABELS = {
    "created": "Tạo ca",
    "declined": "Trẻ chọn chỉ cần thông tin",
    "risk_raised": "Nâng mức nguy cơ",
    "taken": "Nhận ca",
    "transferred": "Chuyển ca",
    "note_added": "Thêm ghi chú",
    "wait_alert": "Nhắc lại vì chờ quá lâu",
    "closed": "Đóng ca",
    "forget_requested": "Trẻ nhờ xóa dữ liệu (tự xóa sau khi đóng ca)",
    "forget_applied": "Đã xóa cuộc trò chuyện theo yêu cầu của trẻ",
}
