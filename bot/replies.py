"""What the gateway itself says to a child, in Vietnamese.

Everything else a child reads comes from Rasa (domain.yml, actions/). These
are for when the gateway cannot or should not ask Rasa. Each one that may be
read in a hard moment names 111: the national child protection hotline,
free, 24/7.
"""

from __future__ import annotations

RASA_UNAVAILABLE = (
    "Xin lỗi, mình đang gặp trục trặc một chút. "
    "Nếu em cần giúp ngay, hãy gọi 111 — miễn phí, 24/7. "
    "Em thử nhắn lại cho mình sau ít phút nhé."
)

# Rasa is busy or slow: the child's message is kept and answered when Rasa can (bot/admission.py).
RASA_BUSY = (
    "Lúc này mình trả lời chậm hơn mọi khi một chút. "
    "Mình đã nhận được tin nhắn của em và sẽ trả lời em ngay khi có thể. "
    "Nếu em cần giúp ngay, hãy gọi 111 — miễn phí, 24/7."
)


def message_too_long(max_chars: int) -> str:
    return (
        f"Tin nhắn của em hơi dài quá nên mình chưa đọc được (tối đa {max_chars} ký tự). "
        "Em chia thành mấy tin ngắn hơn rồi gửi lại giúp mình nhé. "
        "Nếu em cần giúp ngay, hãy gọi 111 — miễn phí, 24/7."
    )


EMPTY_AFTER_CLEANING = "Mình chưa hiểu ý em. Em nhắn lại bằng lời của em giúp mình nhé."


# Non-text input (photos, stickers, voice, files) is never downloaded or stored.
# Nothing here asks the child to send a picture.
TEXT_ONLY = (
    "Mình chỉ đọc được tin nhắn chữ thôi, nên mình chưa xem được thứ em vừa gửi. "
    "Em kể cho mình bằng lời nhé, mình đang nghe đây."
)

# What the child's side of the conversation shows when they quick-exit: one
# neutral line that tells an onlooker nothing.
QUICK_EXIT_LINE = "Hẹn gặp lại."

# Notices for the counsellor's console (written as the child's turn).
_ATTACHMENT_NOTICES = {
    "photo": "[Trẻ đã gửi một ảnh]",
    "sticker": "[Trẻ đã gửi một nhãn dán]",
    "gif": "[Trẻ đã gửi một ảnh động]",
    "voice": "[Trẻ đã gửi một tin nhắn thoại]",
    "audio": "[Trẻ đã gửi một tệp âm thanh]",
    "video": "[Trẻ đã gửi một video]",
    "file": "[Trẻ đã gửi một tệp]",
    "location": "[Trẻ đã gửi một vị trí]",
    "contact": "[Trẻ đã gửi một danh thiếp]",
    "link": "[Trẻ đã gửi một đường link]",
}
CHILD_LEFT_QUICKLY = "[Trẻ đã phải thoát nhanh khỏi cuộc trò chuyện]"


def attachment_notice(kinds: tuple[str, ...]) -> str:
    if not kinds:
        return "[Trẻ đã gửi một nội dung không phải chữ]"
    return " ".join(_ATTACHMENT_NOTICES.get(k, "[Trẻ đã gửi một nội dung không phải chữ]") for k in kinds)
