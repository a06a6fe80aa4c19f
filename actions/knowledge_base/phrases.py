"""The fixed sentences the knowledge base says around its answers, per register.

Children are "em" and the bot is "mình" (as in domain.yml); parents are
"anh/chị"; before we know, "bạn". Short, warm, no blame, no legal jargon.
"""

from __future__ import annotations

CHILD, PARENT, UNKNOWN = "child", "parent", None

_BY_REGISTER: dict[str, dict[str | None, str]] = {
    "clarify": {
        CHILD: "Mình chưa chắc em muốn hỏi điều nào. Em chọn giúp mình nhé:",
        PARENT: "Mình chưa chắc anh/chị muốn hỏi điều nào. Anh/chị chọn giúp mình nhé:",
        UNKNOWN: "Mình chưa chắc bạn muốn hỏi điều nào. Bạn chọn giúp mình nhé:",
    },
    "topics": {
        CHILD: "Mình chưa hiểu rõ câu hỏi của em. Em muốn tìm hiểu về chuyện nào dưới đây? "
               "Em cũng có thể hỏi lại theo cách khác nhé.",
        PARENT: "Mình chưa hiểu rõ câu hỏi của anh/chị. Anh/chị muốn tìm hiểu về chủ đề nào dưới đây? "
                "Anh/chị cũng có thể hỏi lại cụ thể hơn.",
        UNKNOWN: "Mình chưa hiểu rõ câu hỏi của bạn. Bạn muốn tìm hiểu về chủ đề nào dưới đây? "
                 "Bạn cũng có thể hỏi lại theo cách khác nhé.",
    },
    "intent_menu": {
        CHILD: "Em muốn tìm hiểu điều gì? Em chọn một mục dưới đây, hoặc gõ câu hỏi của em nhé.",
        PARENT: "Anh/chị muốn tìm hiểu điều gì? Anh/chị chọn một mục dưới đây, hoặc gõ câu hỏi nhé.",
        UNKNOWN: "Bạn muốn tìm hiểu điều gì? Bạn chọn một mục dưới đây, hoặc gõ câu hỏi nhé.",
    },
    "topic_cards": {
        CHILD: "Về chuyện này, em muốn biết điều gì?",
        PARENT: "Về chủ đề này, anh/chị muốn tìm hiểu điều gì?",
        UNKNOWN: "Về chủ đề này, bạn muốn tìm hiểu điều gì?",
    },
    "follow_ups": {
        CHILD: "Em có thể hỏi tiếp:",
        PARENT: "Anh/chị có thể xem thêm:",
        UNKNOWN: "Bạn có thể xem thêm:",
    },
    "feedback_question": {
        CHILD: "Câu trả lời này có hữu ích không? Em bấm để mình biết nhé.",
        PARENT: "Câu trả lời này có hữu ích không ạ?",
        UNKNOWN: "Câu trả lời này có hữu ích không?",
    },
    "feedback_yes": {
        CHILD: "Cảm ơn em! Mình vui vì giúp được em. Em cứ hỏi tiếp nếu còn thắc mắc nhé.",
        PARENT: "Cảm ơn anh/chị đã phản hồi! Anh/chị cứ hỏi tiếp nếu cần.",
        UNKNOWN: "Cảm ơn bạn đã phản hồi! Bạn cứ hỏi tiếp nếu cần nhé.",
    },
    "feedback_no": {
        CHILD: "Cảm ơn em đã nói cho mình biết. Em thử hỏi lại theo cách khác nhé. "
               "Em cũng có thể gọi 111 để nói chuyện với người tư vấn, miễn phí, cả ngày lẫn đêm.",
        PARENT: "Cảm ơn anh/chị đã góp ý, mình sẽ cải thiện câu trả lời này. Anh/chị có thể hỏi lại cụ thể hơn, "
                "hoặc gọi Tổng đài 111 (miễn phí, 24/7) để được tư vấn trực tiếp.",
        UNKNOWN: "Cảm ơn bạn đã góp ý. Bạn có thể hỏi lại cụ thể hơn, hoặc gọi Tổng đài 111 "
                 "(miễn phí, 24/7) để được tư vấn trực tiếp.",
    },
    "feedback_nothing": {
        CHILD: "Mình hiểu rồi. Em muốn hỏi mình điều gì không?",
        PARENT: "Mình hiểu rồi. Anh/chị cần tìm hiểu thêm điều gì không?",
        UNKNOWN: "Mình hiểu rồi. Bạn cần tìm hiểu thêm điều gì không?",
    },
    "unavailable": {
        CHILD: "Xin lỗi em, mình đang gặp trục trặc nên chưa tra được thông tin. "
               "Em có thể gọi 111 để được giúp ngay nhé, miễn phí, cả ngày lẫn đêm.",
        PARENT: "Xin lỗi, hệ thống đang gặp trục trặc nên mình chưa tra được thông tin. "
                "Anh/chị có thể gọi Tổng đài 111 (miễn phí, 24/7) để được tư vấn.",
        UNKNOWN: "Xin lỗi, mình đang gặp trục trặc nên chưa tra được thông tin. "
                 "Bạn có thể gọi Tổng đài 111 (miễn phí, 24/7) để được tư vấn.",
    },
}

ASK_AUDIENCE = ("Để trả lời cho dễ hiểu, mình hỏi nhanh một chút nhé: "
                "bạn đang hỏi cho chính mình (học sinh, trẻ em) hay là phụ huynh, người lớn?")
AUDIENCE_BUTTONS = (
    ("Mình là học sinh, trẻ em", "child"),
    ("Tôi là phụ huynh, người lớn", "parent"),
)
FEEDBACK_BUTTONS = (("Có, hữu ích", "/affirm"), ("Chưa hữu ích", "/deny"))


def phrase(key: str, audience: str | None) -> str:
    options = _BY_REGISTER[key]
    return options.get(audience, options[UNKNOWN])
