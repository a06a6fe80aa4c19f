"""What the bot says when a message carries risk, reviewed like code.

Numbers are exact: 111 (national child-protection hotline, free, 24/7), 113
(police), 115 (ambulance / medical emergency), 114 (fire). Each reply thanks or
reassures first, gives the numbers, then stays with the child. Nothing asks
for graphic details, proof or pictures, and nothing promises what the service
cannot keep: a counsellor is "being asked to join", never "here right away".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (title, payload)


def _choice(choice: str) -> str:
    # A button payload: the request_human intent with the child's choice as an entity.
    return "/request_human" + json.dumps({"handoff_choice": choice}, separators=(",", ":"))


# The consent ladder: the child decides, and may say no.
TALK_NOW = ("Nói chuyện với tư vấn viên ngay", _choice("counsellor"))
CALL_111 = ("Gọi 111", _choice("call_111"))
INFO_ONLY = ("Chỉ cần thông tin thôi", _choice("info_only"))
LADDER = (TALK_NOW, CALL_111, INFO_ONLY)

OFFER = Reply(
    "Em có muốn nói chuyện với một tư vấn viên của Tổng đài 111 ngay tại đây không? "
    "Họ là người thật, được đào tạo để giúp các bạn nhỏ. Em chọn nhé, em không chọn cũng không sao:",
    buttons=LADDER,
)
OFFER_AGAIN = Reply(
    "Lúc nào em muốn nói chuyện với tư vấn viên của Tổng đài 111, em cứ bấm nút nhé:",
    buttons=LADDER,
)

# ---- imminent: a counsellor is asked at once, without asking; the child is told so -----------

COUNSELLOR_ASKED = Reply(
    "Vì mình rất lo cho em, mình đang mời một tư vấn viên của Tổng đài 111 vào trò chuyện với em "
    "ngay tại đây. Trong lúc chờ, mình vẫn ở đây với em."
)

IMMINENT_CHILD = (
    Reply("Mình rất lo cho em. Nếu em đang gặp nguy hiểm ngay lúc này, hãy gọi 113 (công an), "
          "hoặc 115 (cấp cứu) nếu em bị thương. Nếu được, em hãy tới chỗ có người lớn em tin tưởng."),
    Reply("Em cũng có thể gọi 111, Tổng đài bảo vệ trẻ em: miễn phí, 24/7."),
    COUNSELLOR_ASKED,
    Reply("Bây giờ em có đang ở chỗ an toàn không?"),
)

IMMINENT_SELF_HARM = (
    Reply("Mình rất lo cho em và muốn em được an toàn ngay bây giờ. Nếu em đã làm mình bị thương "
          "hoặc sắp làm vậy, hãy gọi 115 (cấp cứu) ngay, hoặc gọi một người lớn đang ở gần em."),
    Reply("Nếu được, em hãy để thứ có thể làm em bị thương ra xa khỏi em, và đừng ở một mình."),
    COUNSELLOR_ASKED,
    Reply("Em cũng có thể gọi 111 để nói chuyện với người tư vấn: miễn phí, 24/7. "
          "Em có đang ở một mình không? Em cứ nhắn cho mình nhé."),
)

# Something already swallowed, or the body shows harm: 115 first, before any question.
IMMINENT_MEDICAL = (
    Reply("Em gọi 115 (cấp cứu) ngay bây giờ nhé, hoặc nhờ người lớn ở gần em gọi giúp. "
          "Em nói với họ em đã uống gì, hoặc bị thương ở đâu."),
    Reply("Em đừng ở một mình: hãy mở cửa, gọi người trong nhà hoặc hàng xóm đến với em."),
    COUNSELLOR_ASKED,
    Reply("Em cũng có thể gọi 111 để nói chuyện với người tư vấn: miễn phí, 24/7. Em cứ nhắn cho mình nhé."),
)

IMMINENT_OTHER_CHILD = (
    Reply("Nếu em bé đang gặp nguy hiểm ngay lúc này, hãy gọi 113 (công an) ngay; "
          "nếu bé bị thương, gọi 115 (cấp cứu); nếu có cháy, gọi 114."),
    Reply("Mình cũng đang mời một tư vấn viên của Tổng đài 111 vào trò chuyện với bạn ngay tại đây. "
          "Thông tin về người báo tin được giữ bí mật."),
)

# ---- high: believe, thank, not your fault, where help is, then the ladder ---------------------

HIGH_CHILD = (
    Reply("Cảm ơn em đã dũng cảm kể cho mình. Chuyện này không phải lỗi của em."),
    Reply("Em có thể gọi 111, Tổng đài bảo vệ trẻ em: miễn phí, 24/7. "
          "Nếu em đang gặp nguy hiểm, hãy gọi 113 (công an) hoặc 115 (cấp cứu)."),
)

HIGH_SEXTORTION_EXTRA = Reply(
    "Em đừng gửi thêm ảnh và đừng chuyển tiền cho người đó. Em cứ giữ lại tin nhắn, "
    "đừng xóa, và kể với một người lớn em tin nhé."
)

# Self-harm protocol: ask directly about a plan and the means (asking does not put the
# idea in a child's head; it opens the door), give 111 and 115, keep the child talking.
HIGH_SELF_HARM = (
    Reply("Cảm ơn em đã tin và kể cho mình. Mình rất muốn em được an toàn."),
    Reply("Mình hỏi thẳng nhé, vì mình quan tâm đến em: em có đang nghĩ đến việc tự tử không? "
          "Em đã nghĩ sẽ làm thế nào chưa, hay có sẵn thứ gì ở gần em để làm vậy không?"),
    Reply("Nếu em đang làm mình bị thương hoặc sắp làm vậy, hãy gọi 115 (cấp cứu) ngay. "
          "Em cũng có thể gọi 111 để nói chuyện với người tư vấn: miễn phí, 24/7."),
)

# Somebody tells about another child. A child reporting a friend:
OTHER_CHILD_BY_CHILD = (
    Reply("Cảm ơn em đã lên tiếng cho bạn ấy. Em làm vậy là đúng."),
    Reply("Nếu bạn ấy đang gặp nguy hiểm, em hãy báo ngay cho một người lớn em tin, hoặc gọi 113 (công an). "
          "Em cũng có thể gọi 111, Tổng đài bảo vệ trẻ em: miễn phí, 24/7."),
)

# ---- an adult (a parent, a teacher, a neighbour) tells about a child's harm ------------------
# What to do and whom to call, in adult wording, and the same choices as a child gets. The
# reporter's confidentiality: Nghị định 56/2017/NĐ-CP Điều 24; the duty to report: Luật Trẻ em
# Điều 51 (shared/reference/vn-child-law.md §1.10).

HIGH_ADULT = (
    Reply("Cảm ơn anh/chị đã kể với mình. Anh/chị lên tiếng cho cháu là đúng, và chuyện này không phải lỗi của cháu."),
    Reply("Nếu cháu đang gặp nguy hiểm, hãy gọi 113 (công an); nếu cháu bị thương, gọi 115 (cấp cứu). "
          "Anh/chị có thể gọi 111, Tổng đài quốc gia bảo vệ trẻ em: miễn phí, 24/7. "
          "Theo Điều 51 Luật Trẻ em, ai biết trẻ em bị xâm hại đều có trách nhiệm báo cho Tổng đài 111, công an "
          "hoặc Ủy ban nhân dân cấp xã, và thông tin về người báo tin được giữ bí mật."),
)
OFFER_ADULT = Reply(
    "Anh/chị có muốn nói chuyện với một tư vấn viên của Tổng đài 111 ngay tại đây không? "
    "Họ là người thật, sẽ cùng anh/chị tính cách giữ an toàn cho cháu:",
    buttons=LADDER,
)
OFFER_AGAIN_ADULT = Reply(
    "Lúc nào anh/chị muốn nói chuyện với tư vấn viên của Tổng đài 111, anh/chị cứ bấm nút nhé:",
    buttons=LADDER,
)
IMMINENT_ADULT = (
    Reply("Nếu cháu đang gặp nguy hiểm ngay lúc này, anh/chị hãy gọi 113 (công an) ngay; "
          "nếu cháu bị thương, gọi 115 (cấp cứu); nếu có cháy, gọi 114."),
    Reply("Mình cũng đang mời một tư vấn viên của Tổng đài 111 vào trò chuyện với anh/chị ngay tại đây. "
          "Thông tin về người báo tin được giữ bí mật."),
)
ALSO_ASKED_ADULT = Reply("Mình đã mời tư vấn viên rồi, họ sẽ vào ngay khi có người rảnh. "
                         "Nếu cháu gặp nguy hiểm ngay, anh/chị gọi 113, hoặc 115 nếu cháu bị thương.")
CHOSE_COUNSELLOR_ADULT = Reply(
    "Cảm ơn anh/chị. Mình đang mời một tư vấn viên của Tổng đài 111 vào trò chuyện với anh/chị ngay tại đây. "
    "Thông tin anh/chị kể được giữ bí mật."
)
HOW_TO_CALL_111_ADULT = Reply(
    "Anh/chị bấm số 111 là gọi được, miễn phí, cả ngày lẫn đêm. Nếu anh/chị không tiện gọi, mình có thể mời "
    "tư vấn viên vào nhắn tin với anh/chị ở đây.",
    buttons=(TALK_NOW,),
)
CHOSE_INFO_ADULT = Reply(
    "Vâng, mình tôn trọng lựa chọn của anh/chị. Anh/chị cứ hỏi tiếp, mình trả lời trong phạm vi mình biết. "
    "Lúc nào cần, anh/chị gọi 111 (miễn phí, 24/7)."
)
# Told again, in more words, once something has been disclosed: no second full safety reply.
MORE_TOLD = Reply("Cảm ơn em đã kể thêm cho mình. Chuyện này không phải lỗi của em.")
MORE_TOLD_ADULT = Reply("Cảm ơn anh/chị đã kể thêm. Chuyện này không phải lỗi của cháu.")

# While a counsellor is already being asked for: no ladder again, just stay.
STILL_WITH_YOU = Reply(
    "Mình vẫn ở đây với em. Tư vấn viên sẽ vào ngay khi có người rảnh. "
    "Nếu em gặp nguy hiểm ngay, gọi 113, hoặc 115 nếu em bị thương."
)

# ---- the child's choice on the ladder ------------------------------------------------------

CHOSE_COUNSELLOR = Reply(
    "Cảm ơn em đã đồng ý. Mình đang mời một tư vấn viên của Tổng đài 111 vào trò chuyện với em "
    "ngay tại đây. Họ là người thật, và những gì em kể sẽ được giữ kín để bảo vệ em."
)
ALREADY_ASKED = Reply(
    "Mình đã mời tư vấn viên rồi, họ sẽ vào ngay khi có người rảnh. Trong lúc chờ, em cứ nhắn cho mình nhé."
)
HOW_TO_CALL_111 = Reply(
    "Em bấm số 111 trên điện thoại là gọi được, miễn phí, cả ngày lẫn đêm. Khi có người nghe, em chỉ "
    "cần nói \"Em cần giúp đỡ\" rồi kể như em đã kể với mình. Nếu em không tiện gọi, mình có thể mời "
    "tư vấn viên vào nhắn tin với em ở đây.",
    buttons=(TALK_NOW,),
)
CHOSE_INFO = Reply(
    "Được, mình tôn trọng lựa chọn của em. Mình vẫn ở đây để trò chuyện và giúp em tìm thông tin. "
    "Nếu lúc nào em đổi ý, em cứ nói với mình hoặc gọi 111 (miễn phí, 24/7)."
)

# ---- concern: support and self-help, with the offer of a person ---------------------------------

CONCERN_OFFER = Reply(
    "Nếu em muốn nói chuyện với một người thật, mình có thể mời tư vấn viên của Tổng đài 111 vào đây.",
    buttons=(TALK_NOW, CALL_111),
)

CONCERN_OFFER_ADULT = Reply(
    "Nếu anh/chị muốn nói chuyện với một người thật, mình có thể mời tư vấn viên của Tổng đài 111 vào đây.",
    buttons=(TALK_NOW, CALL_111),
)

# When the knowledge base cannot answer: the same steps, fixed here.
SELF_HELP_FALLBACK = {
    "bullying": (Reply(
        "Bị bắt nạt không phải lỗi của em. Em có thể: giữ lại tin nhắn hay ảnh chụp màn hình, kể với "
        "một người lớn em tin (bố mẹ, thầy cô), và tránh ở một mình với những bạn đó. Em cũng có thể "
        "gọi 111 để được tư vấn, miễn phí, 24/7."),),
    "mental_health": (Reply(
        "Cảm ơn em đã chia sẻ. Em thử hít thở chậm vài lần, kể cho một người em tin, và nghỉ ngơi một "
        "chút nhé. Nếu nỗi buồn kéo dài hoặc em thấy quá sức, em có thể gọi 111 để nói chuyện với "
        "người tư vấn, miễn phí, 24/7."),),
}

# An ambiguous signal: one gentle question, never an accusation.
CHECK_IN = (
    Reply("Mình muốn hỏi thêm một chút cho chắc: em có đang gặp chuyện gì làm em sợ, "
          "hay có ai làm em đau không?",
          buttons=(("Có", "/affirm"), ("Không", "/deny"))),
)

CHECK_IN_ADULT = (
    Reply("Mình muốn hỏi thêm một chút cho chắc: cháu có đang gặp chuyện gì, hay có ai làm cháu đau không?",
          buttons=(("Có", "/affirm"), ("Không", "/deny"))),
)

# After a counsellor closed the case: the bot is back, briefly.
AFTER_HANDOFF = Reply(
    "Mình là Mây đây, mình quay lại trò chuyện với em. Bây giờ em thấy thế nào? "
    "Khi nào cần, em cứ nhắn cho mình, hoặc gọi 111 (miễn phí, 24/7).",
    buttons=(("Em ổn", "/affirm"), ("Em vẫn chưa ổn", "/deny")),
)

SELF_HARM_CATEGORIES = frozenset({"self_harm", "suicide_plan", "suicide_means", "suicide_ideation", "overdose"})
# Harm already done to the body: the imminent reply starts with 115.
MEDICAL_CATEGORIES = frozenset({"overdose", "symptoms"})


def is_about_self_harm(intent: str, categories: set[str]) -> bool:
    return intent == "self_harm" or bool(categories & SELF_HARM_CATEGORIES)


def replies_for(level: str, intent: str, categories: set[str], adult: bool = False) -> tuple[Reply, ...]:
    """The first reply to a triaged message, before any consent question.

    `level` is the triage level; `intent` the classified intent; `categories`
    the danger-lexicon categories that counted; `adult`: an adult is writing (about a
    child, whatever the intent), so the adult wording.
    """
    about_self_harm = is_about_self_harm(intent, categories)
    about_other_child = intent == "report_abuse_other"
    if adult:
        return IMMINENT_ADULT if level == "imminent" else HIGH_ADULT
    if level == "imminent":
        if about_other_child:
            return IMMINENT_OTHER_CHILD
        if categories & MEDICAL_CATEGORIES and (about_self_harm or "overdose" in categories):
            return IMMINENT_MEDICAL
        return IMMINENT_SELF_HARM if about_self_harm else IMMINENT_CHILD
    if level == "high":
        if about_other_child:
            return OTHER_CHILD_BY_CHILD
        if about_self_harm:
            return HIGH_SELF_HARM
        if "sextortion" in categories:
            return HIGH_CHILD[:1] + (HIGH_SEXTORTION_EXTRA,) + HIGH_CHILD[1:]
        return HIGH_CHILD
    return CHECK_IN
