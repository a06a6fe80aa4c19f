"""What Mây says at the moments that decide whether a child goes on, reviewed like the
safety messages (actions/safety_messages.py): warm, short, true, no legal jargon for children,
no promise the service cannot keep.

Each text has a child register ("em") and an adult register ("anh/chị"); `texts(name, adult)`
picks one. What is promised about privacy is what the product does: Mây tells no parent or
teacher anything (it has no way to); messages are deleted 30 days after the last one unless a
counsellor helped (docs/data-inventory.md); in danger Mây asks a 111 counsellor to join, and
reports to 111 are kept confidential (NĐ 56/2017/NĐ-CP Điều 24). Whether a counsellor must
then tell an authority is the hotline's professional duty (Luật Trẻ em Điều 51); Mây says it
may happen, and never promises it will not.
"""

from __future__ import annotations

from actions.safety_messages import LADDER, Reply

_TEXTS: dict[str, dict[str, tuple[Reply, ...]]] = {
    "hesitation": {
        "child": (Reply("Em cứ kể, mình đang nghe đây. Em kể từ từ, tới đâu cũng được, mình sẽ không trách em đâu."),),
        "adult": (Reply("Anh/chị cứ kể, mình đang nghe. Anh/chị kể từ từ, tới đâu cũng được."),),
    },
    "listening": {
        "child": (Reply("Mình vẫn đang nghe em. Em muốn kể thêm hay hỏi gì, em cứ nhắn nhé."),),
        "adult": (Reply("Mình vẫn đang nghe anh/chị. Anh/chị muốn kể thêm hay hỏi gì, cứ nhắn nhé."),),
    },
    "secrecy": {
        "child": (
            Reply("Mình không kể chuyện của em cho bố mẹ, thầy cô hay bạn bè của em đâu, và em không cần cho "
                  "mình biết tên hay địa chỉ. Lúc nào em muốn, em nhắn \"xóa dữ liệu của em\" là mình xóa hết."),
            Reply("Mình chỉ nói thật với em một điều: nếu em đang gặp nguy hiểm, mình sẽ mời tư vấn viên của "
                  "Tổng đài 111 giúp em. Để giữ an toàn cho em, họ có thể cần báo cho người có trách nhiệm, "
                  "và pháp luật buộc họ giữ bí mật về người đã kể, tức là em."),
        ),
        "adult": (
            Reply("Những gì anh/chị kể ở đây được giữ kín: mình không hỏi tên hay địa chỉ, và thông tin về người "
                  "báo tin được giữ bí mật (Nghị định 56/2017/NĐ-CP, Điều 24)."),
            Reply("Nếu một trẻ em đang gặp nguy hiểm, tư vấn viên của Tổng đài 111 có thể cần báo cho cơ quan "
                  "có trách nhiệm để bảo vệ an toàn cho cháu."),
        ),
    },
    "consequence/perpetrator": {
        "child": (
            Reply("Em kể ra là đúng, và chuyện này không phải lỗi của em. Người làm hại trẻ em là người làm sai, "
                  "và pháp luật nghiêm cấm việc đó."),
            Reply("Người đó bị xử lý thế nào là việc của công an và tòa án, theo luật. Em không phải lo hay quyết "
                  "định chuyện đó: việc của em là được an toàn và có người lớn giúp em."),
        ),
        "adult": (
            Reply("Người làm hại trẻ em là người có lỗi, và pháp luật nghiêm cấm việc đó; xử lý thế nào là việc "
                  "của công an và tòa án. Anh/chị giúp cháu lên tiếng là đúng, và đây không phải lỗi của cháu."),
        ),
    },
    "consequence/retaliation": {
        "child": (
            Reply("Em sợ là phải, và em không có lỗi gì khi kể. An toàn của em là quan trọng nhất: nếu người đó "
                  "về và em gặp nguy hiểm, em gọi 113 ngay, hoặc chạy sang nhà một người lớn em tin."),
            Reply("Tư vấn viên của Tổng đài 111 sẽ cùng em tìm cách để em được an toàn. Pháp luật bảo vệ em."),
        ),
        "adult": (
            Reply("Giữ an toàn cho cháu là việc cần làm trước: nếu người đó quay lại và cháu gặp nguy hiểm, hãy gọi "
                  "113 ngay. Tư vấn viên của Tổng đài 111 có thể cùng anh/chị tính cách bảo vệ cháu, theo pháp luật; "
                  "đây không phải lỗi của cháu."),
        ),
    },
    "consequence/school": {
        "child": (
            Reply("Em không có lỗi gì khi kể chuyện mình bị làm hại, và kể ra không phải lý do để ai phạt em. "
                  "Pháp luật bảo vệ quyền được đi học và được an toàn của em."),
            Reply("Nếu có ai dọa em như vậy, em cứ nói với mình hoặc với tư vấn viên của Tổng đài 111, họ sẽ giúp em."),
        ),
        "adult": (
            Reply("Cháu không có lỗi gì khi kể chuyện mình bị làm hại, và đó không phải lý do để cháu bị kỷ luật. "
                  "Pháp luật bảo vệ quyền được học tập và được an toàn của trẻ em."),
        ),
    },
    "consequence/family": {
        "child": (
            Reply("Mình hiểu em lo cho gia đình. Người lớn quyết định thế nào là trách nhiệm của người lớn, không "
                  "phải lỗi của em, và em không phải gánh chuyện đó một mình."),
            Reply("Tư vấn viên của Tổng đài 111 sẽ cùng em tìm cách để em được an toàn. Pháp luật luôn bảo vệ em."),
        ),
        "adult": (
            Reply("Mình hiểu anh/chị lo cho gia đình. Giữ an toàn cho cháu là việc cần nhất, và đây không phải lỗi "
                  "của cháu. Tư vấn viên của Tổng đài 111 có thể cùng anh/chị tính từng bước, theo pháp luật."),
        ),
    },
    "blame": {
        "child": (Reply("Đây không phải lỗi của em. Dù em đã làm gì, mặc gì hay không kịp la lên, người làm hại em "
                        "mới là người sai."),),
        "adult": (Reply("Đây không phải lỗi của cháu. Trẻ em không bao giờ có lỗi khi bị người khác làm hại; người "
                        "làm hại cháu mới là người sai. Điều cháu cần nhất lúc này là được tin và được bảo vệ."),),
    },
    "about_me/name": {
        "child": (Reply("Mình tên là Mây, một chatbot (không phải người thật). Mình ở đây để trò chuyện với em, giải "
                        "thích quyền của trẻ em và giúp em tìm người hỗ trợ khi cần."),),
        "adult": (Reply("Mình là Mây, một chatbot (không phải người thật). Mình giải thích quyền trẻ em và pháp luật "
                        "về bảo vệ trẻ em, và kết nối với tư vấn viên của Tổng đài 111 khi cần."),),
    },
    "about_me/age": {
        "child": (Reply("Mây là chatbot nên không có tuổi như người đâu. Nhưng mình luôn sẵn sàng trò chuyện với em, "
                        "cả ngày lẫn đêm."),),
        "adult": (Reply("Mây là chatbot nên không có tuổi. Mình trả lời anh/chị lúc nào cũng được, cả ngày lẫn đêm."),),
    },
    "about_me/person": {
        "child": (Reply("Mình là Mây, một chatbot, không phải người thật. Nếu em muốn nói chuyện với người thật, mình "
                        "có thể mời tư vấn viên của Tổng đài 111, hoặc em gọi 111 (miễn phí, 24/7).",
                        buttons=(("Nói chuyện với người thật", "/request_human"),)),),
        "adult": (Reply("Mình là Mây, một chatbot, không phải người thật. Nếu anh/chị muốn nói chuyện với người thật, "
                        "mình có thể mời tư vấn viên của Tổng đài 111, hoặc anh/chị gọi 111 (miễn phí, 24/7).",
                        buttons=(("Nói chuyện với người thật", "/request_human"),)),),
    },
    "about_me/abilities": {
        "child": (Reply("Mình là Mây. Mình có thể giải thích quyền của trẻ em, chỉ em cách giữ an toàn trên mạng, và "
                        "khi em gặp chuyện không ổn, mình giúp em gặp tư vấn viên của Tổng đài 111.",
                        buttons=(("Quyền của em", "/ask_rights"), ("An toàn trên mạng", "/ask_online_safety"),
                                 ("Nói chuyện với người thật", "/request_human"))),),
        "adult": (Reply("Mình là Mây. Mình trả lời về quyền trẻ em, pháp luật và chính sách bảo vệ trẻ em, cách báo "
                        "khi trẻ bị xâm hại, và kết nối anh/chị với tư vấn viên của Tổng đài 111.",
                        buttons=(("Cách báo khi có chuyện", "/ask_reporting"), ("Chính sách hỗ trợ", "/ask_support_policy"),
                                 ("Nói chuyện với người thật", "/request_human"))),),
    },
    "about_me/self": {
        "child": (Reply("Mình là Mây, một chatbot, nên mình không ăn, không ngủ hay buồn vui như em đâu. Nhưng mình "
                        "luôn sẵn lòng nghe em kể chuyện."),),
        "adult": (Reply("Mình là Mây, một chatbot, nên không có những chuyện đó như người. Mình luôn sẵn lòng trả lời "
                        "anh/chị."),),
    },
    # Offered again after a consequence question, once something has been disclosed.
    "offer_again": {
        "child": (Reply("Nếu em muốn, tư vấn viên của Tổng đài 111 có thể nói chuyện với em ngay tại đây:", buttons=LADDER),),
        "adult": (Reply("Nếu anh/chị muốn, tư vấn viên của Tổng đài 111 có thể nói chuyện ngay tại đây:", buttons=LADDER),),
    },
}


def texts(name: str, adult: bool) -> tuple[Reply, ...]:
    """The replies for a moment ("secrecy", "consequence/school", ...) in the person's register."""
    entry = _TEXTS.get(name) or _TEXTS[name.split("/")[0]]
    return entry["adult" if adult else "child"]


def names() -> list[str]:
    return list(_TEXTS)
