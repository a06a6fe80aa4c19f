"""What the bot says when a message carries risk, reviewed like code.

Numbers are exact: 111 (child-protection hotline, free, 24/7), 113 (police),
115 (medical emergency). Each reply thanks or reassures first, gives the
numbers, then stays with the child; nothing asks for details or proof.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (title, payload)


# Someone is in danger right now: safety first, before anything else.
IMMINENT_CHILD = (
    Reply("Mình rất lo cho em. Nếu em đang gặp nguy hiểm ngay lúc này, hãy gọi 113 (công an), "
          "hoặc 115 (cấp cứu) nếu em bị thương. Nếu được, em hãy tới chỗ có người lớn em tin tưởng."),
    Reply("Em cũng có thể gọi 111, Tổng đài bảo vệ trẻ em: miễn phí, 24/7."),
    Reply("Bây giờ em có đang ở chỗ an toàn không? Mình vẫn ở đây với em."),
)

IMMINENT_SELF_HARM = (
    Reply("Mình rất lo cho em và muốn em được an toàn ngay bây giờ. Nếu em đã làm mình bị thương "
          "hoặc sắp làm vậy, hãy gọi 115 (cấp cứu) ngay, hoặc gọi một người lớn đang ở gần em."),
    Reply("Em cũng có thể gọi 111 để nói chuyện với người tư vấn: miễn phí, 24/7."),
    Reply("Em có đang ở một mình không? Mình vẫn ở đây, em cứ nhắn cho mình nhé."),
)

IMMINENT_OTHER_CHILD = (
    Reply("Nếu em bé đang gặp nguy hiểm ngay lúc này, hãy gọi 113 (công an) ngay; "
          "nếu bé bị thương, gọi 115 (cấp cứu)."),
    Reply("Bạn cũng có thể báo cho Tổng đài 111 (miễn phí, 24/7). Thông tin về người báo tin được giữ bí mật."),
    Reply("Cảm ơn bạn đã lên tiếng cho em bé. Mình vẫn ở đây nếu bạn cần."),
)

# A disclosure: believe, thank, not your fault, where help is, stay.
HIGH_CHILD = (
    Reply("Cảm ơn em đã dũng cảm kể cho mình. Chuyện này không phải lỗi của em."),
    Reply("Em có thể gọi 111, Tổng đài bảo vệ trẻ em: miễn phí, 24/7, có người tư vấn giúp em. "
          "Nếu em đang gặp nguy hiểm, hãy gọi 113 (công an) hoặc 115 (cấp cứu)."),
    Reply("Mình ở đây để lắng nghe em. Em cứ kể tiếp khi em sẵn sàng nhé."),
)

HIGH_SEXTORTION_EXTRA = Reply(
    "Em đừng gửi thêm ảnh và đừng chuyển tiền cho người đó. Em cứ giữ lại tin nhắn, "
    "đừng xóa, và kể với một người lớn em tin nhé."
)

HIGH_SELF_HARM = (
    Reply("Cảm ơn em đã tin và kể cho mình. Mình rất muốn em được an toàn."),
    Reply("Em có thể gọi 111 để nói chuyện với người tư vấn: miễn phí, 24/7. "
          "Nếu em đang làm mình bị thương hoặc sắp làm vậy, hãy gọi 115 (cấp cứu) ngay."),
    Reply("Mình ở đây để lắng nghe em. Em có muốn kể thêm cho mình không?"),
)

HIGH_OTHER_CHILD = (
    Reply("Cảm ơn bạn đã lên tiếng cho em bé. Việc bạn báo tin rất quan trọng."),
    Reply("Bạn có thể báo cho Tổng đài 111 (miễn phí, 24/7); thông tin về người báo tin được giữ bí mật. "
          "Nếu em bé đang gặp nguy hiểm ngay, hãy gọi 113 (công an)."),
    Reply("Mình vẫn ở đây nếu bạn muốn kể thêm."),
)

# An ambiguous signal: one gentle question, never an accusation.
CHECK_IN = (
    Reply("Mình muốn hỏi thêm một chút cho chắc: em có đang gặp chuyện gì làm em sợ, "
          "hay có ai làm em đau không?",
          buttons=(("Có", "/affirm"), ("Không", "/deny"))),
)

SELF_HARM_CATEGORIES = frozenset({"self_harm", "suicide_plan", "suicide_means", "suicide_ideation"})


def replies_for(level: str, intent: str, categories: set[str]) -> tuple[Reply, ...]:
    """Choose the reply for a triaged message.

    `level` is the triage level; `intent` the classified intent; `categories`
    the danger-lexicon categories that counted.
    """
    about_self_harm = intent == "self_harm" or bool(categories & SELF_HARM_CATEGORIES)
    about_other_child = intent == "report_abuse_other"
    if level == "imminent":
        if about_other_child:
            return IMMINENT_OTHER_CHILD
        return IMMINENT_SELF_HARM if about_self_harm else IMMINENT_CHILD
    if level == "high":
        if about_other_child:
            return HIGH_OTHER_CHILD
        if about_self_harm:
            return HIGH_SELF_HARM
        if "sextortion" in categories:
            return HIGH_CHILD[:1] + (HIGH_SEXTORTION_EXTRA,) + HIGH_CHILD[1:]
        return HIGH_CHILD
    return CHECK_IN
