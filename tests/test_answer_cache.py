"""The whole-answer cache: a repeated question is served without the models, a changed conversation is not,
and an index swap empties it. Fake embedder and fake re-ranker, which record what they are asked."""

from __future__ import annotations

import threading

import pytest

from qa.abstain import AbstentionModel
from qa.answerer import AnswerCache, Answerer
from qa.config import Settings
from tests.conftest import FakeEmbedder, FakeReranker, fake_index

FILES = {
    "needles.md": "---\ntitle: Needles\n---\n## Does it hurt?\n\nMost patients feel little to no pain.\n\n## Safety\n\n"
                  "People taking blood thinners should ask their doctor first.\n",
}


@pytest.fixture
def index(tmp_path):
    return fake_index(tmp_path, FILES)


def make(index, **options):
    embedder, reranker = FakeEmbedder(), FakeReranker({"pain": 3.0})
    bot = Answerer(index, embedder, Settings(), abstention=AbstentionModel.neutral(), reranker=reranker, **options)
    bot.warm_up()
    embedder.calls.clear()
    reranker.queries.clear()
    return bot, embedder, reranker


def test_a_repeated_question_is_served_from_the_cache_without_the_models(index):
    bot, embedder, reranker = make(index)
    first = bot.answer("Does it hurt?")
    again = bot.answer("  does it HURT? ")
    assert not first.cached and again.cached
    assert len(embedder.calls) == 1 and len(reranker.queries) == 1  # the models ran once
    assert again.answer["passages"] == first.answer["passages"]
    assert again.answer["question"] == "  does it HURT? "  # the question as this visitor typed it


def test_another_conversation_is_another_answer(index):
    bot, embedder, _ = make(index)
    bot.answer("Can I still get it?")
    follow_up = bot.answer("Can I still get it?", [{"role": "user", "content": "I take blood thinners."}])
    assert not follow_up.cached and len(embedder.calls) == 2


def test_a_caller_changing_its_answer_does_not_change_the_cached_one(index):
    bot, _, _ = make(index)
    bot.answer("Does it hurt?").answer["passages"].clear()
    bot.ask("Does it hurt?")["passages"].clear()
    assert bot.answer("Does it hurt?").answer["passages"]


def test_an_index_swap_empties_the_cache(index, tmp_path):
    bot, _, _ = make(index)
    bot.answer("electroacupuncture current")
    bot.use_index(fake_index(tmp_path / "two", {"new.md": "# New\n\nElectroacupuncture uses a gentle current.\n"}))
    result = bot.answer("electroacupuncture current")
    assert not result.cached and result.answer["passages"][0]["source_id"] == "new"


def test_size_zero_keeps_nothing_and_the_oldest_goes_first(index):
    bot, embedder, _ = make(index, cache_size=0)
    bot.answer("Does it hurt?")
    assert not bot.answer("Does it hurt?").cached
    cache = AnswerCache(size=2)
    for question in ("a", "b", "c"):
        cache.put(cache.key(question, None), question)
    assert len(cache) == 2 and cache.get(cache.key("a", None)) is None and cache.get(cache.key("c", None)) == "c"


def test_concurrent_answers_share_the_cache_safely(index):
    bot, _, _ = make(index)
    results, errors = [], []

    def ask():
        try:
            results.append(bot.answer("Does it hurt?").answer["passages"][0]["text"])
        except Exception as exc:  # noqa: BLE001 - a thread's failure must reach the test
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1 and len(results) == 8


def test_odd_histories_never_fail_and_a_role_in_capitals_is_not_a_user_turn(index):
    bot, _, _ = make(index)
    for history in (5, True, "text", [None, 3, {"role": "user"}], {"role": "user", "content": "x"}):
        assert bot.answer("Does it hurt?", history).answer["passages"]
    # "USER" is not a role the answerer reads, so it cannot share a cached answer with a real follow-up.
    capitals = bot.answer("Can I still get it?", [{"role": "USER", "content": "I take blood thinners."}])
    real = bot.answer("Can I still get it?", [{"role": "user", "content": "I take blood thinners."}])
    assert not real.cached and real.prepared.context and not capitals.prepared.context


def test_a_negative_size_keeps_nothing():
    cache = AnswerCache(size=-1)
    cache.put(cache.key("a", None), "a")
    assert len(cache) == 0
