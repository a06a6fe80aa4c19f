"""Danger lexicon: accent-insensitive matching, ambiguity, negation, information questions."""

import pytest

from nlu.danger_lexicon import load_lexicon


@pytest.fixture(scope="module")
def lexicon():
    return load_lexicon()


def counted(lexicon, text):
    return [s for s in lexicon.find(text) if s.counts]


def categories(lexicon, text, clear_only=False):
    return {
        s.category for s in counted(lexicon, text) if not (clear_only and s.ambiguous)
    }


@pytest.mark.parametrize(
    "text",
    ["em muốn chết", "em muon chet", "e mún chết", "em mun chet qua", "EM MUỐN CHẾTTTT"],
)
def test_accent_and_teencode_insensitive(lexicon, text):
    signals = counted(lexicon, text)
    assert any(s.category == "suicide_plan" and s.level == "high" for s in signals)


def test_signal_keeps_original_span(lexicon):
    text = "hôm qua ba đánh e bầm tím"
    signal = next(s for s in counted(lexicon, text) if s.category == "physical_violence")
    assert text[signal.start:signal.end] == signal.phrase


@pytest.mark.parametrize(
    "text",
    ["em đi đánh răng rồi ngủ", "chiều nay em đánh cầu lông với bạn",
     "cô đánh giá bài em tốt", "em bị đánh thức lúc 5h"],
)
def test_harmless_uses_of_danh_are_not_clear_signals(lexicon, text):
    assert "physical_violence" not in categories(lexicon, text, clear_only=True)


def test_danh_alone_is_only_concern(lexicon):
    signals = counted(lexicon, "hôm nay bị đánh giá thấp, còn chuyện đánh thì thôi")
    assert signals and all(s.level == "concern" and s.ambiguous for s in signals)


def test_accented_text_rejects_other_spellings(lexicon):
    # "dành cho em" folds like "đánh ... em"-ish words; "từ từ" folds like "tự tử".
    assert not counted(lexicon, "quà này dành cho em")
    assert not counted(lexicon, "em làm từ từ thôi")
    assert counted(lexicon, "em muốn tự tử")


def test_unaccented_collisions_are_downgraded(lexicon):
    levels = {s.level for s in counted(lexicon, "em nghi den tu tu")}
    assert "high" in levels  # "nghĩ đến tự tử" is unambiguous even without accents
    assert {s.level for s in counted(lexicon, "lam tu tu thoi")} == {"concern"}
    # "ban em" is "bạn em" far more often than "bán em".
    assert "trafficking" not in categories(lexicon, "ban em noi voi em")
    assert "trafficking" in categories(lexicon, "họ định bán em sang Trung Quốc")


@pytest.mark.parametrize(
    "text",
    ["em không muốn chết", "bố không đánh em", "em chưa bao giờ bị xâm hại",
     "bo em khong danh em", "không có ai đánh em cả", "em ko muon tu tu dau"],
)
def test_negated_signals_do_not_count(lexicon, text):
    signals = lexicon.find(text)
    assert signals, "the phrase should still be found"
    assert not any(s.counts and not s.ambiguous for s in signals)
    assert any(s.negated for s in signals)


@pytest.mark.parametrize(
    "text",
    ["em không muốn sống nữa", "bố em không cho em ăn", "em không muốn bị đánh nữa",
     "cha đánh em", "em không biết đó có phải là xâm hại không"],
)
def test_negation_that_is_part_of_the_danger(lexicon, text):
    assert any(s.counts and not s.ambiguous for s in lexicon.find(text))


def test_negation_stops_at_clause_boundary(lexicon):
    signals = lexicon.find("bố không đánh em, nhưng mẹ đánh em")
    assert any(s.counts and s.category == "physical_violence" for s in signals)
    assert any(s.negated for s in signals)


@pytest.mark.parametrize(
    "text",
    ["Xâm hại tình dục trẻ em bị phạt thế nào?", "hiep dam tre em bi tu bao nhieu nam",
     "bạo hành trẻ em là gì", "luật quy định thế nào về mua bán trẻ em",
     "bắt cóc trẻ em có phạm luật không", "cho em hỏi tội dâm ô bị xử lý ra sao"],
)
def test_information_questions_do_not_count(lexicon, text):
    signals = lexicon.find(text)
    assert signals and all(s.info_question for s in signals)
    assert not counted(lexicon, text)


@pytest.mark.parametrize(
    "text",
    ["em bị bố đánh vậy bố có phạm luật không", "con tôi bị xâm hại thì phải làm sao?",
     "bạn em bị bạo hành, phải báo ai?"],
)
def test_questions_with_a_concrete_victim_still_count(lexicon, text):
    assert any(not s.ambiguous for s in counted(lexicon, text))


def test_now_marker(lexicon):
    signals = counted(lexicon, "mẹ em đang cầm roi đuổi đánh em")
    assert any(s.now for s in signals)
    assert not any(s.now for s in counted(lexicon, "hôm qua mẹ đuổi đánh em"))


def test_imminent_means_are_ambiguous_alone(lexicon):
    signals = counted(lexicon, "nhà em có thuốc trừ sâu")
    assert signals and all(s.ambiguous for s in signals)
    assert any(s.level == "imminent" for s in signals)


def test_patterns_find_family_violence(lexicon):
    signals = counted(lexicon, "tối qua ba say rồi tát tui")
    assert any(s.category == "physical_violence" and not s.ambiguous for s in signals)
    assert counted(lexicon, "e bị ông ngoại đập")


def test_harmless_messages_have_no_clear_signal(lexicon):
    for text in ["em chào mọi người", "cách làm slime", "ban em hoi bai toan",
                 "em sợ người lạ trên mạng", "e tắt máy đây", "ny đá em rồi"]:
        assert not [s for s in counted(lexicon, text) if not s.ambiguous], text


@pytest.mark.parametrize(
    "text", ["tự sát có đau không ạ", "uong bao nhieu vien thuoc ngu thi chet", "nhảy lầu có chết ngay không"]
)
def test_suicide_questions_are_warning_signs_not_information(lexicon, text):
    assert counted(lexicon, text)


def test_suicide_in_a_study_context_is_information(lexicon):
    assert not counted(lexicon, "em làm bài thuyết trình về phòng chống tự tử ở học sinh")


@pytest.mark.parametrize(
    "text", ["giá mà mình chết đi thì hay biết mấy", "uoc gi em bien mat", "thà tui chết còn hơn"]
)
def test_passive_ideation(lexicon, text):
    assert any(s.category == "suicide_plan" and not s.ambiguous for s in counted(lexicon, text))


def test_protection_is_not_an_event(lexicon):
    signals = lexicon.find("luật có bảo vệ em khỏi bị xâm hại tình dục không")
    assert signals and not [s for s in signals if s.counts]


def test_happening_now_is_an_ambiguous_imminence_cue(lexicon):
    signals = counted(lexicon, "ba say lại đang xích em ở góc nhà")
    assert any(s.level == "imminent" and s.ambiguous for s in signals)
    # "đang" before an ordinary verb is nothing; "trả lời" is not "lôi".
    assert not counted(lexicon, "ai dang tra loi e v")
    assert not counted(lexicon, "em đang học bài")


# Added after the second NLU development set (tests/data/nlu_dev_2.yml, 2026-11-29); the texts
# below are new wordings of what it missed, not its own messages.
@pytest.mark.parametrize(
    "text, category",
    [("lần nào bị so sánh em cũng đấm tay vào tường tới sưng", "self_harm"),
     ("tui lay compa dam vao tay, dau ma thay nhe nguoi", "self_harm"),
     ("chắc em đi thì nhà đỡ tốn tiền nuôi em", "suicide_plan"),
     ("không có em thì mọi người sẽ vui hơn", "suicide_plan"),
     ("tụi nó đè em xuống rồi lấy bật lửa đốt tóc em", "physical_violence"),
     ("bị đánh vô đầu e phải khâu 3 mũi", "physical_violence"),
     ("em bị ông hàng xóm làm bậy hồi năm ngoái", "sexual_abuse"),
     ("bi chu ho lam bay", "sexual_abuse"),
     # after the third set (tests/data/nlu_dev_3.yml)
     ("chủ nhật này là ngày cuối cùng của em rồi", "suicide_plan"),
     ("nó viết di chúc rồi mọi người ơi", "suicide_plan"),
     ("em tưởng tượng đám tang của chính mình", "suicide_plan"),
     ("tụi nó lột quần em ngoài sân", "sexual_abuse"),
     ("bị chọi vô đầu bằng cục đá", "physical_violence"),
     ("em đang bị mấy người lạ nhốt trong kho", "physical_violence"),
     ("họ nói mai sẽ đưa em qua sông", "trafficking")],
)
def test_indirect_disclosures_are_clear_signals(lexicon, text, category):
    assert category in categories(lexicon, text, clear_only=True), lexicon.find(text)


def test_an_online_stranger_asking_to_meet_is_a_warning_sign(lexicon):
    signals = counted(lexicon, "có ông trên game đòi gặp ở quán net gần trường")
    assert any(s.category == "grooming" and s.ambiguous for s in signals)


@pytest.mark.parametrize(
    "text",
    ["có app nào giết thời gian không", "tụi nó chém gió về ma suốt", "em muốn cắt tóc mái",
     "uống thuốc cảm có buồn ngủ không", "tụi em chơi đánh nhau bằng bóng nước",
     "bài có câu thà chết còn hơn mất em", "em làm bậy bài kiểm tra rồi", "em không bị ai làm bậy cả"],
)
def test_everyday_words_that_look_dangerous_are_not_signals(lexicon, text):
    assert not counted(lexicon, text), lexicon.find(text)


def test_giving_things_away_is_a_warning_sign_that_adds_up(lexicon):
    alone = counted(lexicon, "em chia hết đồ cho em gái rồi")
    assert alone and all(s.ambiguous for s in alone)
    together = {s.canonical for s in counted(lexicon, "nó chia hết đồ cho tụi em, còn dặn chăm con mèo giúp nó")}
    assert len(together) >= 2


def test_self_punishment_by_starving_adds_up(lexicon):
    assert all(s.ambiguous for s in counted(lexicon, "em tự phạt mình chống đẩy 20 cái"))
    together = {s.canonical for s in counted(lexicon, "e nhịn ăn cả tuần để tự phạt mình, thấy đáng đời")}
    assert len(together) >= 2


def test_asking_someone_to_call_the_police_is_imminent(lexicon):
    signals = counted(lexicon, "ổng đang lên lầu, nếu em không nhắn lại thì gọi công an giúp em")
    assert any(s.level == "imminent" and not s.ambiguous for s in signals)
