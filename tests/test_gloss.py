"""The glosses that let a question in Spanish, Chinese, Russian or Vietnamese search the English articles
(qa/gloss.py and its lexicons). The phrasings here are written for these tests from the articles' topics."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qa import gloss
from qa.errors import QAError
from qa.gloss import LEXICONS, Gloss, fold

QA_DIR = Path(gloss.__file__).parent


@pytest.mark.parametrize("language", sorted(LEXICONS))
def test_each_lexicon_loads_and_no_two_keys_fold_to_one(language):
    data = yaml.safe_load((QA_DIR / LEXICONS[language]).read_text(encoding="utf-8"))
    lexicon = gloss.for_language(language)
    assert lexicon is not None and len(lexicon.phrases) + len(lexicon.words) + len(lexicon.stems) >= 100
    for table in ("phrases", "words", "stems"):
        keys = [fold(str(k)) for k in (data.get(table) or {})]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        assert not repeated, f"{LEXICONS[language]} {table}: these keys are one after folding, so one is lost: {repeated}"


def test_english_has_no_gloss():
    assert gloss.for_language("en") is None and gloss.for_language("tl") is None


@pytest.mark.parametrize("language, question, words", [
    ("zh", "针灸治疗糖尿病神经病变安全吗？", ["acupuncture", "diabetic neuropathy", "safe"]),
    ("zh", "針灸會痛嗎？化療以後腳趾麻木。", ["acupuncture", "hurt", "chemotherapy", "toes", "numbness"]),
    ("zh", "电针要做几次？", ["electroacupuncture", "how many sessions"]),
    ("ru", "Сколько сеансов иглоукалывания нужно при нейропатии?", ["how many sessions", "acupuncture", "neuropathy"]),
    ("ru", "Безопасна ли акупунктура, если я принимаю варфарин?", ["safe", "acupuncture", "warfarin blood thinners"]),
    ("ru", "Покалывание и жжение в стопах после химиотерапии", ["tingling", "burning", "feet", "chemotherapy"]),
    ("vi", "châm cứu có an toàn không nếu tôi bị tiểu đường?", ["acupuncture", "safe", "diabetes"]),
    ("vi", "cham cuu co an toan khong neu toi bi tieu duong?", ["acupuncture", "safe", "diabetes"]),  # typed without marks
    ("vi", "cần bao nhiêu buổi điện châm cho bệnh thần kinh ngoại biên?", ["how many sessions", "electroacupuncture",
                                                                         "peripheral neuropathy"]),
    ("es", "¿Cuántas sesiones de acupuntura necesito para la neuropatía?", ["sessions", "acupuncture", "neuropathy"]),
])
def test_a_question_is_glossed_into_the_articles_words(language, question, words):
    english = gloss.for_language(language).english(question)
    for word in words:
        assert word in english, (english, word)


def test_unknown_chinese_characters_drop_out_and_other_text_stays():
    lexicon = Gloss({"针灸": "acupuncture"}, {}, characters=True)
    assert lexicon.english("针灸和B12？") == "acupuncture B12?"


def test_a_hyphenated_name_stays_whole_and_a_hyphenated_word_is_read_part_by_part():
    spanish = gloss.for_language("es")
    # A program's name inside a Spanish message must reach the request lists as typed, not as "meds - cal".
    assert "medi-cal" in spanish.english("mi papá tiene neuropatía, ¿aceptan Medi-Cal?").lower()
    assert spanish.english("dolor post-quimioterapia") == "pain post-chemotherapy"


def test_a_russian_stem_takes_the_longest_known_beginning():
    lexicon = Gloss({}, {}, stems={"акупунктур": "acupuncture", "электроакупунктур": "electroacupuncture"})
    assert lexicon.english("электроакупунктура или акупунктуры") == "electroacupuncture или acupuncture"


def test_a_broken_lexicon_names_itself_and_the_fix(tmp_path):
    bad = tmp_path / "chinese.yaml"
    bad.write_text("format: 1\nmatch: syllables\nphrases: {}\n", encoding="utf-8")
    with pytest.raises(QAError, match=r"chinese.yaml must have .*restore it from git"):
        Gloss.load(bad)
    bad.write_text("format: [1\n", encoding="utf-8")
    with pytest.raises(QAError, match=r"(?s)cannot be read .*restore it from git"):
        Gloss.load(bad)


@pytest.mark.parametrize("question", [
    "针灸对周围神经病变有帮助吗？",
    "Помогает ли иглоукалывание при онемении ног?",
    "châm cứu có giúp giảm tê bàn chân không?",
])
def test_a_question_in_chinese_russian_or_vietnamese_is_answered_from_the_articles(real_answerer, question):
    answer = real_answerer.ask(question)
    assert not answer["abstained"] and answer["passages"], answer["message"]
    assert "The articles are in English" in " ".join(answer["notes"])
