"""The Japanese analysis behind the search index (SudachiPy; no database)."""

from __future__ import annotations

import threading

import pytest

from search.japanese import (
    MAX_CHUNK,
    STOP_WORDS,
    Word,
    analyse,
    autocomplete_analysis,
    fold,
    query_tokens,
    tokens,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Compounds give their short units too; verbs their dictionary form; question words go.
        ("粗大ごみの出し方を教えて", ["粗大ごみ", "粗大塵", "粗大", "ごみ", "出し方", "出す"]),
        ("住民票の写しを取りたい", ["住民票", "住民", "票", "写し", "取る"]),
        ("転入届はどこに出せばいいですか？", ["転入届", "転入", "届", "届け", "出す"]),
        ("予防接種を受けたい", ["予防接種", "予防", "接種", "受ける"]),
        ("子育て支援センター", ["子育て", "支援", "せんたー"]),
        # Katakana is folded to hiragana, half-width katakana first made full-width (NFKC).
        ("ゴミの分別", ["ごみ", "分別"]),
        ("ｺﾞﾐ", ["ごみ"]),
        ("クマが出たらどうすればいい", ["くま", "出る"]),
        # Spelling variants also give Sudachi's normalised form.
        ("申込みはこちら", ["申込み", "申し込み"]),
        ("こどもの予防接種", ["こども", "子供", "予防接種", "予防", "接種"]),
        ("問合せ先", ["問合せ先", "問い合わせ先", "問合せ", "問い合わせ", "先"]),
        ("受付時間", ["受付時間", "受付", "受け付け", "時間"]),
        # Full-width alphanumerics become ASCII, lower case; numerals are kept; no symbols.
        ("test@example.jp", ["test", "example", "jp"]),
        ("ＷｉＦｉ 10月 2026年度", ["wifi", "10", "月", "2026", "年度"]),
        # Adjectives take their dictionary form.
        ("新しく", ["新しい"]),
        # Prefixes (ご), particles and symbols carry no topic.
        ("ご案内！", ["案内"]),
        (
            "マイナンバーカードの申請方法を知りたいです",
            ["まいなんばーかーど", "まいなんばー", "かーど", "申請方法", "申請"],
        ),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "教えてください", "どうすればいいですか？", "何ですか", "これはいつ？", "！？…「」"],
)
def test_questions_without_topic_give_no_terms(text: str) -> None:
    assert tokens(text) == []


def test_katakana_and_hiragana_give_the_same_terms() -> None:
    assert tokens("ゴミ") == tokens("ごみ") == tokens("ｺﾞﾐ")
    assert tokens("クマの出没") == tokens("くまの出没")
    assert fold("マイナンバー・ヴ") == "まいなんばー・ゔ"


def test_terms_repeat_as_often_as_they_occur() -> None:
    assert tokens("ごみとごみ").count("ごみ") == 2


def test_stop_words_are_folded_like_terms() -> None:
    assert all(word == fold(word.lower()) for word in STOP_WORDS)
    assert {"する", "ある", "いる", "なる", "できる", "教える", "方法", "こと", "ください"} <= STOP_WORDS


def test_query_tokens_are_document_tokens() -> None:
    assert query_tokens("粗大ごみの出し方") == tokens("粗大ごみの出し方")


def test_analyse_keeps_compounds_with_their_parts() -> None:
    assert analyse("粗大ごみ収集日") == [
        Word("粗大ごみ", ("粗大", "ごみ"), "粗大塵"),
        Word("収集"),
        Word("日"),
    ]


def test_long_texts_are_cut_below_sudachis_limit() -> None:
    sentence = "粗大ごみは月に一度収集します。"
    text = sentence * (5 * MAX_CHUNK // len(sentence))  # 60,000 bytes: too long for one tokenize call
    assert len(text.encode()) > 49_149
    terms = tokens(text)
    assert terms.count("粗大ごみ") == text.count("粗大ごみ")
    # a text without any sentence end is cut too
    assert tokens("あ" * 20_000 + "。住民票")[-3:] == ["住民票", "住民", "票"]


def test_autocomplete_analysis_offers_prefixes_of_the_unfinished_end() -> None:
    words, prefixes, last_is_word = autocomplete_analysis("粗大ご")
    assert words == [Word("粗大")] and prefixes == ["粗大ご"] and not last_is_word
    words, prefixes, last_is_word = autocomplete_analysis("ゴミの出し")
    assert prefixes == ["ごみの出し", "出し"] and last_is_word
    # one kana alone is too short a prefix
    assert autocomplete_analysis("ご")[1] == []
    assert autocomplete_analysis("  ") == ([], [], False)


def test_each_thread_has_its_own_tokenizer() -> None:
    expected = tokens("粗大ごみの出し方を教えて")
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                results.append(tokens("粗大ごみの出し方を教えて"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 200 and all(result == expected for result in results)


def test_a_new_django_q_worker_loads_the_dictionary_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_q.signals import post_spawn

    import search.japanese

    loaded: list[bool] = []
    monkeypatch.setattr(search.japanese, "warm_up", lambda: loaded.append(True))
    post_spawn.send(sender="django_q", proc_name="Process-kairan")
    assert loaded == [True]
