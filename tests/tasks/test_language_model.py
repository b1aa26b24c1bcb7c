"""Language model: carried state == full re-run, suggestions, beam search, sampling, pinned errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.tasks.decoding import filter_logits
from rnnkit.tasks.language_model import LanguageModel, LMConfig, train_lm

CORPUS = (
    "i love deep learning .\nwe love deep networks .\nthey like deeper models .\n"
    "i love the deep sea .\nyou love dogs and cats .\n"
) * 20


@pytest.fixture(scope="module", params=["word", "char"])
def lm(request, tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp(f"lm-{request.param}")
    (root / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    cfg = LMConfig(
        data=str(root / "corpus.txt"),
        level=request.param,
        embed_dim=16,
        units=24,
        num_layers=2,
        dropout=0.0,
        batch_size=4,
        bptt=10,
        learning_rate=0.02,
        threads=1,
        max_steps=40,
        epochs=2 if request.param == "word" else 8,  # characters need more steps to spell "deep"
    )
    train_lm(cfg, root / "run")
    return LanguageModel.load(root / "run")


def train_tiny(text: str, run: Path, **overrides: Any) -> Path:
    """A 1 x 8 word LM trained for 2 steps on ``text`` into ``run``: for what a run writes and decodes."""
    data = run.with_suffix(".txt")
    data.write_text(text, encoding="utf-8")
    tiny = {"level": "word", "embed_dim": 8, "units": 8, "num_layers": 1, "batch_size": 2, "bptt": 8}
    tiny |= {"epochs": 1, "max_steps": 2, "threads": 1}
    train_lm(LMConfig(data=str(data), **(tiny | overrides)), run)
    return run


def full_rerun_logits(lm: LanguageModel, ids: list[int]) -> torch.Tensor:
    """The reference: the whole prefix through the model's layers (fused kernel), last step's logits."""
    lm.model.forget_states()
    with torch.no_grad():
        out = lm.model(torch.tensor([[lm.new_decoder().start_token, *ids]]))[0, -1]
    lm.model.forget_states()
    return out


def test_carried_state_equals_a_full_rerun(lm):
    ids = lm.encode_context("i love deep learning .\nwe love")
    dec = lm.new_decoder()
    for t in ids:
        dec.push(t)
    torch.testing.assert_close(dec.logits, full_rerun_logits(lm, ids), atol=1e-5, rtol=1e-5)
    assert dec.steps == len(ids) + 1  # one step per token (+ the start token), never a re-run


def test_int8_decoding_suggests_what_float32_does(lm):
    q = LanguageModel(lm.model, lm.tokenizer, lm.config, int8=True)  # same weights, int8 products
    assert q.weights.int8 and q.weights.packed_out.q is not None
    text = "i love deep learning .\nwe love de" if lm.level == "word" else "i love dee"
    ids = lm.encode_context(text.rsplit(" ", 1)[0])
    d32, d8 = lm.new_decoder(), q.new_decoder()
    for t in ids:
        d32.push(t)
        d8.push(t)
    p32, p8 = torch.softmax(d32.logits, -1), torch.softmax(d8.logits, -1)
    assert not torch.equal(p32, p8)
    assert float((p32 - p8).abs().sum()) < 0.05  # total variation of the next-token distribution
    assert [s.word for s in q.suggest(text, top_k=1)] == [s.word for s in lm.suggest(text, top_k=1)]


def test_keystroke_sessions_equal_fresh_suggestions_and_cost_at_most_one_step(lm):
    text = "i love deep learning. we lo"
    session = lm.session()
    for n in range(1, len(text) + 1):
        session.update(text[:n])
        assert session.suggest(3) == lm.suggest(text[:n], 3)
    # Each token was stepped exactly once (plus the start token): the prefix never re-ran.
    assert session.decoder.steps == 1 + len(session.decoder.tokens)
    steps = session.decoder.steps
    session.update("i love")  # backspacing rewinds to a snapshot: no step at all
    assert session.decoder.steps == steps
    assert session.suggest(2) == lm.suggest("i love", 2)


def test_partial_word_is_completed(lm):
    words = [s.word for s in lm.suggest("I love dee", 3)]
    assert words and all(w.startswith("dee") for w in words)
    assert "deep" in words
    probs = [s.probability for s in lm.suggest("we love ", 3)]
    assert probs == sorted(probs, reverse=True) and len(probs) == 3


def test_suggestions_are_distinct(lm):
    words = [s.word for s in lm.suggest("they like ", 5)]
    assert len(words) == len(set(words))


def test_generation_with_carried_state_equals_rerunning_the_prefix(lm):
    prompt, n = "i love", 12
    fast = lm.generate(prompt, n, temperature=0.9, top_k=20, top_p=0.95, seed=3)
    # Reference: every step re-runs the whole prefix through the layers.
    gen = torch.Generator().manual_seed(3)
    ids = lm.encode_context(prompt)
    pieces = []
    for i in range(n):
        logits = full_rerun_logits(lm, ids)
        logits[lm._banned] = float("-inf")
        probs = torch.softmax(filter_logits(logits, 0.9, 20, 0.95), dim=-1)
        token = int(torch.multinomial(probs, 1, generator=gen))
        pieces.append(lm.token_text(token, first=i == 0 and not prompt, prev=ids[-1]))
        ids.append(token)
    assert fast == "".join(pieces)
    assert lm.generate(prompt, n, temperature=0.9, seed=3) == lm.generate(prompt, n, temperature=0.9, seed=3)


def test_temperature_zero_is_greedy(lm):
    """T -> 0 leaves all the mass on the most likely token: the argmax at every step, any seed."""
    prompt, n = "i love", 8
    ids = lm.encode_context(prompt)
    pieces = []
    for i in range(n):
        logits = full_rerun_logits(lm, ids)
        logits[lm._banned] = float("-inf")
        token = int(logits.argmax())
        pieces.append(lm.token_text(token, first=i == 0 and not prompt, prev=ids[-1]))
        ids.append(token)
    assert lm.generate(prompt, n, temperature=0, seed=1) == "".join(pieces)
    assert lm.generate(prompt, n, temperature=0, seed=2) == "".join(pieces)


def test_word_level_text_is_detokenised(lm):
    """Generated words read as text: "learning." not "learning .", no space after a line break."""
    if lm.level != "word":
        pytest.skip("characters carry their own spacing")
    tok = lm.tokenizer
    dot, word = tok.token_to_id("."), tok.token_to_id("deep")
    assert lm.token_text(dot, prev=word) == "."
    assert lm.token_text(word, prev=dot) == " deep"
    assert lm.token_text(word, prev=3) == "deep"  # after <eos> (id 3), i.e. a line break
    text = lm.generate("i love deep learning", 30, temperature=0)
    assert " ." not in text and "\n " not in text


def test_generated_words_get_the_corpus_casing_back(tmp_path):
    """A lower-casing word LM writes "I" and "Ishmael" as the corpus did, capitals after a full stop."""
    text = "Call me Ishmael. I love the sea.\nThe whale and I sail.\n" * 10
    lm = LanguageModel.load(train_tiny(text, tmp_path / "run", bptt=5))
    ids = {w: lm.tokenizer.token_to_id(w) for w in ("i", "ishmael", "the", ".", "love")}
    assert lm.token_text(ids["i"], prev=ids["love"]) == " I"
    assert lm.token_text(ids["ishmael"], prev=ids["love"]) == " Ishmael"
    assert lm.token_text(ids["the"], prev=ids["."]) == " The"
    assert lm.token_text(ids["the"], prev=ids["love"]) == " the"
    assert lm.token_text(ids["the"], prev=3) == "The"  # after a line break (<eos>)
    assert all(s.word in ("Ishmael", "I") for s in lm.suggest("call me i", top_k=2))


def test_suggest_prints_probabilities_that_say_something():
    from rnnkit.tasks.language_model.cli import format_probability

    assert [format_probability(p) for p in (0.5, 0.1234, 0.0042, 0.00042, 3.1e-7)] == [
        "50%",
        "12.3%",
        "0.42%",
        "0.00042",
        "3.1e-07",
    ]


def test_bad_sampling_arguments(lm):
    with pytest.raises(
        ConfigError, match=r"^temperature=-1 is not valid: expected a number >= 0 \(0: always"
    ):
        lm.generate("i", 5, temperature=-1)
    with pytest.raises(ConfigError, match=r"^top_k=0 is not valid: expected an integer >= 1\.$"):
        lm.suggest("i love", 0)
    with pytest.raises(ConfigError, match=r"^top_p=1.5 is not valid"):
        lm.generate("i", 5, top_p=1.5)


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert torch.isinf(filter_logits(logits, 1.0, 2, None)[2:]).all()
    kept = ~torch.isinf(filter_logits(logits, 1.0, None, 0.8))
    assert kept.tolist() == [True, True, False, False]  # 0.5 + 0.3 reaches 0.8
    assert (~torch.isinf(filter_logits(logits, 1.0, None, 0.01))).sum() == 1  # the top token always stays


def test_a_tiny_character_lm_starts_at_ln_v_and_does_not_jump(tmp_path):
    """Issue 20 item 8: with the tied matrix N(0, 1) (rows of norm sqrt(E) = 16) a 15-symbol
    corpus started at loss 4.47 against ln V = 2.94 and jumped to 12.9 after one Adam step (test
    perplexity 8,600 after 3). N(0, 1/E) x sqrt(E) at the input starts at ln V and only goes down."""
    import math

    from rnnkit.models.losses import SparseCategoricalCrossentropy

    from rnnkit.models.callbacks import Callback
    from rnnkit.tasks.language_model.data import _Capped, load_corpus, tbptt_data
    from rnnkit.tasks.language_model.model import build_model, perplexity
    from rnnkit.tasks.language_model.train import _optimizer

    torch.set_num_threads(1)
    words = ["the cat", "a dog", "sat on", "the mat", "ran far"]
    rng = np.random.default_rng(0)
    text = "\n".join(" ".join(words[i] for i in rng.integers(0, 5, 6)) for _ in range(120))
    (tmp_path / "tiny.txt").write_text(text, encoding="utf-8")
    # configs/char_lm.toml's recipe (2 x 256 LSTM, tied, Adam 3e-3, clip 1), shorter chunks.
    cfg = LMConfig(
        data=str(tmp_path / "tiny.txt"),
        level="char",
        embed_dim=256,
        units=256,
        dropout=0.2,
        batch_size=16,
        bptt=50,
        learning_rate=3e-3,
        clipnorm=1.0,
    )
    corpus = load_corpus(cfg)
    ln_v = math.log(corpus.tokenizer.vocab_size)  # 15 characters + 4 special ids: ln 19 = 2.94
    torch.manual_seed(0)
    model = build_model(cfg, corpus.tokenizer.vocab_size)
    model.compile(optimizer=_optimizer(cfg), loss=SparseCategoricalCrossentropy(from_logits=True))
    assert abs(perplexity(model, corpus.validation)["nats_per_token"] - ln_v) < 0.05

    means = []  # fit logs the running mean of the epoch's batch losses

    class Record(Callback):
        def on_train_batch_end(self, batch, logs=None):
            means.append(logs["loss"])

    model.fit(
        _Capped(tbptt_data(corpus.train, cfg.batch_size, cfg.bptt), 5),
        epochs=1,
        verbose=0,
        callbacks=[Record()],
    )
    losses = [means[0]] + [(k + 1) * means[k] - k * means[k - 1] for k in range(1, len(means))]
    assert len(losses) == 5 and abs(losses[0] - ln_v) < 0.05, losses
    assert max(losses) < ln_v + 0.05, losses  # was 4.5, 12.9, 15.6, ...
    assert perplexity(model, corpus.test)["nats_per_token"] < ln_v  # was 9.1 nats (perplexity 8,600)


def test_model_files_saved_before_the_input_scale_load_unscaled(tmp_path):
    """A RecurrentLM saved without scale_embedding (every file before it) predicts as it did."""
    from rnnkit.models import load_model
    from rnnkit.tasks.language_model.model import RecurrentLM

    torch.manual_seed(0)
    old = RecurrentLM(12, embed_dim=8, units=8, num_layers=1, dropout=0.0)  # the constructor's default
    ids = torch.tensor([[1, 5, 7, 2]])
    before = old(ids)
    old.forget_states()
    old.save(tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors", compile=False)
    assert loaded.input_scale == 1.0 and "scale_embedding" not in loaded.get_config()
    torch.testing.assert_close(loaded(ids), before)


def test_straight_double_quotes_attach_inside(monkeypatch):
    """Issue 20 item 11: generation printed 'they like " deeper " models'."""
    from rnnkit.data import WordTokenizer

    tok = WordTokenizer(lower=True, punctuation="split").fit(['they like "deeper" models! yes'])
    script = [tok.token_to_id(w) for w in ["like", '"', "deeper", '"', "models", "!", '"', "yes", '"']]

    class Scripted:  # a decoder whose most likely next token follows the script
        def __init__(self):
            self.i = 0

        def sync(self, ids):
            pass

        @property
        def logits(self):
            out = torch.zeros(tok.vocab_size)
            out[script[self.i]] = 1.0
            return out

        def push(self, token):
            self.i += 1

    lm = LanguageModel.__new__(LanguageModel)
    lm.level, lm.tokenizer, lm._banned = "word", tok, torch.tensor([0, 1, 2])
    monkeypatch.setattr(lm, "new_decoder", Scripted, raising=False)
    monkeypatch.setattr(lm, "encode_context", lambda text: tok.encode(text), raising=False)
    assert lm.generate("they", 9, temperature=0) == ' like "deeper" models! "yes"'
    assert lm.generate('she said "', 2, temperature=0) == 'like"'  # the prompt opened a quote


def test_a_one_epoch_run_draws_its_curve_with_a_plain_title(tmp_path, monkeypatch):
    """Issue 20 item 16: the curve of a 1-epoch LM run was titled "lm: lm" (x-axis 0.96-1.04:
    tests/models/test_plotting.py)."""
    import rnnkit.models

    drawn = []
    monkeypatch.setattr(
        rnnkit.models, "plot_history", lambda logs, path, title=None: drawn.append((logs, title))
    )
    train_tiny(CORPUS, tmp_path / "tiny-run", level="char")
    ((logs, title),) = drawn
    assert title == "lm training (tiny-run/)" and len(logs["loss"]) == 1
