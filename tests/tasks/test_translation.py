"""Translation task: the seq2seq model, decoding invariants, a tiny training run that must
learn, the run directory round trip, and bad input.

The toy language pair is a word-for-word code (12 words, each with one translation, order
kept), so a model that learned it scores near 100 BLEU and one that did not scores near 0.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import torch

from rnnkit.data import BOS_ID, EOS_ID
from rnnkit.errors import ConfigError, DataError
from rnnkit.models.search import beam_search, greedy_search
from rnnkit.tasks import runs
from rnnkit.tasks.translation.config import TranslationConfig
from rnnkit.tasks.translation.data import PairBatches, encode_pairs, make_tokenizers, pad, read_pairs
from rnnkit.tasks.translation.model import Seq2Seq
from rnnkit.tasks.translation.predictor import Translator, _no_repeat_step, ban_repeats, sacrebleu_scores
from rnnkit.tasks.translation.train import LinearDecay, train

EN = ["sun", "moon", "star", "tree", "river", "stone", "bird", "fish", "wolf", "horse", "fire", "rain"]
ES = ["sol", "luna", "astro", "arbol", "rio", "piedra", "ave", "pez", "lobo", "caballo", "fuego", "lluvia"]
CODE = dict(zip(EN, ES, strict=True))


def _pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choices(EN, k=rng.randint(2, 5))
        out.append((" ".join(words), " ".join(CODE[w] for w in words)))
    return out


def _write_tsv(path: Path, rows: list[tuple[str, str]], header: str = "source\ttarget") -> Path:
    path.write_text(header + "\n" + "".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    return path


def _tiny(**kw):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return Seq2Seq(40, 50, **{"embed_dim": 16, "units": 12, **kw}).eval()


SRC = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 0, 0, 0], [12, 13, 14, 0, 0]])
TGT = torch.tensor([[2, 11, 12, 13, 14, 15], [2, 16, 17, 0, 0, 0], [2, 18, 19, 20, 0, 0]])


# ------------------------------------------------------------------ the model
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("attention", ["dot", "additive", "none"])
def test_step_by_step_equals_teacher_forcing(cell: str, attention: str) -> None:
    """Decoding's cell loop gives the fused training pass's log-probabilities, step by step."""
    m = _tiny(cell=cell, attention=attention, tie_embeddings=attention == "dot")
    with torch.no_grad():
        full = torch.log_softmax(m(SRC, TGT), dim=-1)
        state = m.encode(SRC)
        for t in range(TGT.shape[1]):
            lp, state, weights = m.step(TGT[:, t], state)
            torch.testing.assert_close(lp, full[:, t], atol=1e-5, rtol=1e-5)
            if attention != "none":
                assert float(weights[1, 2:].abs().max()) < 1e-6  # padded source steps get no attention


def test_padding_does_not_change_a_sentence() -> None:
    """A sentence's logits are the same alone and beside a longer one (masks on the source)."""
    m = _tiny()
    with torch.no_grad():
        both = m(SRC, TGT)
        alone = m(SRC[1:2, :2], TGT[1:2, :3])
    torch.testing.assert_close(both[1:2, :3], alone, atol=1e-5, rtol=1e-5)


def test_loss_ignores_padding_and_smooths_labels() -> None:
    m = _tiny(label_smoothing=0.2)
    with torch.no_grad():
        logits = m(SRC, TGT[:, :-1])
        loss, nll = m.token_losses(logits, TGT[:, 1:])
        real = TGT[:, 1:] != 0
        lp = torch.log_softmax(logits, -1)[real]  # (tokens, V)
        y = TGT[:, 1:][real]
        by_hand_nll = -lp.gather(1, y[:, None]).mean()
        by_hand = 0.8 * by_hand_nll + 0.2 * (-lp.mean(-1)).mean()
    torch.testing.assert_close(nll, by_hand_nll)
    torch.testing.assert_close(loss, by_hand)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_loss_equals_torch_cross_entropy_value_and_gradient(smoothing: float) -> None:
    """The one-log-softmax loss is F.cross_entropy(ignore_index=0, label_smoothing=e), gradients too."""
    torch.manual_seed(1)
    logits = torch.randn(3, 5, 50, requires_grad=True)
    target = TGT[:, 1:]
    loss, _ = _tiny(label_smoothing=smoothing).token_losses(logits, target)
    (g,) = torch.autograd.grad(loss, logits)
    want = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 50), target.reshape(-1), ignore_index=0, label_smoothing=smoothing
    )
    (g_want,) = torch.autograd.grad(want, logits)
    torch.testing.assert_close(loss, want)
    torch.testing.assert_close(g, g_want)


def test_linear_decay_holds_then_falls_to_zero() -> None:
    d = LinearDecay(0.01, 0.25, minutes=None, total_steps=100)
    factors = []
    for step in (0, 50, 75, 90, 100):
        d.step = step
        factors.append(round(d.factor(), 6))
    assert factors == [1.0, 1.0, 1.0, 0.4, 0.0]
    resumed = LinearDecay(0.01, 0.25, minutes=None, total_steps=100, steps_per_epoch=25)
    resumed.on_epoch_begin(3)  # fit resumes at epoch 3 of 4: the last quarter, where lr decays
    assert (resumed.step, resumed.factor()) == (75, 1.0)
    resumed.step += 15
    assert round(resumed.factor(), 6) == 0.4
    timed = LinearDecay(0.01, 1.0, minutes=10.0, total_steps=1)
    assert 0.99 < timed.factor() <= 1.0  # time-based: just started


def test_config_schedule_and_precision_errors() -> None:
    with pytest.raises(ConfigError, match=r"lr_decay=1.5 is not valid: expected a number in \[0, 1\]"):
        TranslationConfig(lr_decay=1.5)
    with pytest.raises(ConfigError, match=r"mixed_precision='fp16' is not valid"):
        TranslationConfig(mixed_precision="fp16")


def test_the_preset_is_the_benchmarked_recipe() -> None:
    preset = Path(__file__).resolve().parents[2] / "configs" / "translation.toml"
    c = TranslationConfig.from_toml(preset)
    assert (c.mixed_precision, c.lr_decay, c.no_repeat_ngram, c.length_penalty) == ("bf16", 0.3, 3, 2.0)
    assert (c.src_vocab, c.units, c.attention, c.cell, c.dropout) == (4000, 256, "dot", "lstm", 0.2)


def test_tied_embeddings_share_the_weight() -> None:
    m = _tiny(tie_embeddings=True)
    assert m.out is None
    names = [n for n, _ in m.named_parameters()]
    assert not any(n.startswith("out.") for n in names) and "out_bias" in names
    with pytest.raises(ConfigError, match=r"attention='luong' is not valid"):
        Seq2Seq(10, 10, attention="luong")


# ------------------------------------------------------------------ data
def test_read_pairs_and_errors(tmp_path: Path) -> None:
    good = _write_tsv(tmp_path / "p.tsv", [("a b", "c d"), (" e ", "f")])
    assert read_pairs(good, "source", "target") == [("a b", "c d"), ("e", "f")]
    with pytest.raises(
        DataError, match=r"source_column='en' is not valid: expected a column of .*'source', 'target'"
    ):
        read_pairs(good, "en", "target")
    empty = _write_tsv(tmp_path / "e.tsv", [("a b", "c d"), ("x", " ")])
    with pytest.raises(DataError, match=r"row 3: the target side is empty; every pair needs both\."):
        read_pairs(empty, "source", "target")


def test_batches_shift_the_target() -> None:
    pairs = _pairs(30, 1)
    s_tok, t_tok = make_tokenizers(pairs, 300, 300)
    src, tgt = encode_pairs(s_tok, t_tok, pairs, 50, 50)
    (_, y_in), y_out = next(iter(PairBatches(src, tgt, 8, shuffle=False)))
    assert (y_in[:, 0] == 2).all()  # <bos>
    assert torch.equal(y_in[:, 1:][y_out[:, :-1] != 0], y_out[:, :-1][y_out[:, :-1] != 0])
    assert ((y_out == 3).sum(1) == 1).all()  # one <eos> per target


# ------------------------------------------------------------------ a tiny run that must learn
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("mt")
    data = _write_tsv(root / "pairs.tsv", _pairs(600, 0))
    config = TranslationConfig(
        data=str(data),
        src_vocab=300,
        tgt_vocab=300,
        embed_dim=32,
        units=48,
        dropout=0.0,
        batch_size=16,
        epochs=7,
        learning_rate=1e-2,
        label_smoothing=0.0,
        beam=3,
        threads=1,
    )
    metrics = train(config, runs.TrainOptions(root / "run", quiet=True))
    return root / "run", metrics


def test_tiny_run_learns_the_code(tiny_run: tuple[Path, dict]) -> None:
    run, metrics = tiny_run
    assert metrics["test"]["bleu"] > 70, metrics["test"]  # untrained or broken: < 10
    assert metrics["test"]["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert metrics["test"]["chrf_signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0")
    for name in ("run.json", "model.safetensors", "metrics.json", "tokenizer-source.json", "history.csv"):
        assert (run / name).is_file(), name
    assert json.loads((run / "run.json").read_text())["task"] == "translate"


def test_decoding_invariants_on_the_trained_model(tiny_run: tuple[Path, dict]) -> None:
    tr = Translator.load(tiny_run[0])
    texts = [s for s, _ in _pairs(12, 7)] + ["fire", "wolf rain bird horse fish"]
    src = pad([tr.encode_source(t) for t in texts])
    kw = dict(batch_size=len(texts), bos=BOS_ID, eos=EOS_ID, max_len=30, length_penalty=0.0)
    g = greedy_search(tr.model.step, tr.model.encode(src), **kw)
    b = beam_search(tr.model.step, tr.model.encode(src), beam=1, **kw)
    assert [h.tokens for h in g] == [h[0].tokens for h in b]  # beam 1 == greedy, on the real model
    calls: list[int] = []
    hook = tr.model.encoder.register_forward_hook(lambda *_: calls.append(1))
    five = tr.translate(texts, beam=5)
    hook.remove()
    assert len(calls) == 1  # the encoder runs once for the batch, never per decoding step
    nbest = tr.translate(texts, beam=5, nbest=3)
    assert [x[0].text for x in five] == [x[0].text for x in nbest]  # top of the n-best == the beam result
    assert all(len(x) == 3 and len({h.text for h in x}) == 3 for x in nbest)
    batched = tr.translate(texts, beam=5, nbest=2, batch_size=32)
    for i, t in enumerate(texts):  # one sentence alone == inside a batch
        alone = tr.translate(t, beam=5, nbest=2)[0]
        assert [h.text for h in alone] == [h.text for h in batched[i]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[i]], abs=1e-4)
    greedy_alone = [tr.translate(t, beam=1)[0][0].text for t in texts]
    assert greedy_alone == [x[0].text for x in tr.translate(texts, beam=1, batch_size=5)]
    tr.config.no_repeat_ngram = 4  # the code has no repeated 4-gram to ban in these: same output
    assert [x[0].text for x in tr.translate(texts[:12], beam=5)] == [x[0].text for x in five[:12]]


def test_ban_repeats_by_hand() -> None:
    history = torch.tensor([[2, 7, 8, 9, 7, 8], [2, 7, 8, 7, 8, 7]])  # (N=2, L=6)
    lp = torch.zeros(2, 12)
    out = ban_repeats(lp, history, 3)
    # row 0: "7 8" was followed by 9 -> 9 banned; row 1: "8 7" was followed by 8 -> 8 banned
    assert torch.isinf(out).nonzero().tolist() == [[0, 9], [1, 8]]
    assert torch.equal(ban_repeats(lp, history[:, :2], 3), lp)  # shorter than n: nothing to ban


@pytest.mark.parametrize("beam", [1, 4])
def test_no_repeat_ngram_stops_a_looping_decoder(beam: int) -> None:
    """A step that prefers "5 6 7 5 6 7 ..." loops without the ban, and repeats no 3-gram with it."""
    loop = {BOS_ID: 5, 5: 6, 6: 7, 7: 5}

    def step(tokens: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        lp = torch.full((tokens.shape[0], 12), -5.0)
        lp[torch.arange(tokens.shape[0]), [loop.get(int(t), 5) for t in tokens]] = -0.1
        lp[:, EOS_ID] = -8.0
        return lp, state, None

    wrapped = _no_repeat_step(step, 3)
    state = {"inner": torch.zeros(2, 1), "history": torch.zeros(2, 0, dtype=torch.long)}
    kw = dict(batch_size=2, bos=BOS_ID, eos=EOS_ID, max_len=12, length_penalty=0.0)
    plain = greedy_search(step, torch.zeros(2, 1), **kw)[0].tokens
    assert plain[:6] == [5, 6, 7, 5, 6, 7]
    if beam == 1:
        hyps = greedy_search(wrapped, state, **kw)
    else:
        hyps = [h[0] for h in beam_search(wrapped, state, beam=beam, **kw)]
    for h in hyps:
        grams = [tuple(h.tokens[i : i + 3]) for i in range(len(h.tokens) - 2)]
        assert len(grams) == len(set(grams)), h.tokens


def test_attention_map_and_reload_identical(tiny_run: tuple[Path, dict]) -> None:
    tr = Translator.load(tiny_run[0])
    (best,) = tr.translate("sun fire moon", beam=3, attention=True)[0]
    assert best.text == "sol fuego luna"
    assert len(best.attention) == len(best.tokens) and all(
        len(r) == len(best.source_tokens) for r in best.attention
    )
    assert all(abs(sum(r) - 1) < 1e-3 for r in best.attention)
    again = Translator.load(tiny_run[0]).translate("sun fire moon", beam=3)[0][0]
    assert again.text == best.text and again.score == best.score


def test_bad_input_is_one_clear_error(tiny_run: tuple[Path, dict], tmp_path: Path) -> None:
    tr = Translator.load(tiny_run[0])
    with pytest.raises(
        DataError, match=r"text='   ' is not valid: expected a non-empty sentence to translate\."
    ):
        tr.translate("   ")
    with pytest.raises(DataError, match=r"text='.* subword tokens' is not valid: expected at most 150"):
        tr.translate("sun " * 200)
    with pytest.raises(DataError, match=r"text='2001 characters' is not valid"):
        tr.translate("s" * 2001)
    with pytest.raises(ConfigError, match=r"beam=0 is not valid"):
        tr.translate("sun", beam=0)
    other = tmp_path / "other"
    shutil.copytree(tiny_run[0], other)
    meta = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**meta, "task": "sentiment"}))
    with pytest.raises(Exception, match=r"sentiment"):
        Translator.load(other)


def test_sacrebleu_scores_by_hand() -> None:
    res = sacrebleu_scores(["el gato"], ["el gato"])
    assert res["bleu"] == 0.0 or res["bleu"] == 100.0  # 2 words: no 4-grams, sacrebleu's smoothing decides
    assert res["chrf"] == 100.0 and res["sentences"] == 1
    assert sacrebleu_scores(["a b c d e"], ["a b c d e"])["bleu"] == 100.0


@pytest.mark.skipif(shutil.which("apertium") is None, reason="needs Debian apertium-eng-spa")
def test_apertium_baseline_one_line_per_sentence() -> None:
    from rnnkit.tasks.translation.baselines import apertium_translate

    out = apertium_translate(["Jesus wept.", "The water\nis cold."])
    assert out[0] == "Jesus lloró." and len(out) == 2 and "agua" in out[1]


# ------------------------------------------------------------------ command line and server
def _cli(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    """``rnnkit ARGS`` in process, through the real entry point (errors -> one line, exit 2)."""
    from rnnkit.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def test_cli_translate_plot_and_errors(
    tiny_run: tuple[Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(tiny_run[0])
    code, out, _ = _cli(capsys, ["translate", run, "sun fire moon", "--beam", "3", "--nbest", "2", "--json"])
    assert code == 0
    res = json.loads(out)
    assert res[0]["source"] == "sun fire moon" and len(res[0]["translations"]) == 2
    png = tmp_path / "att.png"
    code, _, _ = _cli(capsys, ["translate", run, "moon rain", "--plot", str(png)])
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    lines = tmp_path / "in.txt"
    lines.write_text("sun\n\nmoon star\n", encoding="utf-8")
    code, out, _ = _cli(capsys, ["translate", run, "--file", str(lines), "--beam", "1", "--json"])
    assert code == 0 and [r["source"] for r in json.loads(out)] == ["sun", "moon star"]
    other = tmp_path / "lm-run"
    shutil.copytree(tiny_run[0], other)
    meta = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**meta, "task": "lm"}))
    for args, message in [
        (["translate", run, ""], "expected a non-empty sentence to translate"),
        (["translate", run, "sun " * 300], "subword tokens' is not valid"),
        (["translate", run, "sun", "--beam", "99"], "beam=99 is not valid"),
        (["translate", run, "sun", "--plot", str(tmp_path / "a.gif")], "plot="),
        (["translate", str(other), "sun"], "holds a 'lm' run: expected a 'translate' run"),
    ]:
        code, _, err = _cli(capsys, args)
        assert code == 2, (args, err)
        assert message in err and len(err.strip().splitlines()) == 1, err
    code, out, _ = _cli(capsys, ["evaluate", run, "--split", "test", "--json"])
    assert code == 0 and json.loads(out)["bleu"] == tiny_run[1]["test"]["bleu"]


def test_cli_train_refuses_bad_pairs_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = _write_tsv(tmp_path / "m.tsv", [("a", "b")], header="en\tes")
    empty = _write_tsv(tmp_path / "e.tsv", [("a", "b"), ("", "c")])
    for path, message in [
        (missing, "source_column='source' is not valid: expected a column of"),
        (empty, "row 3: the source side is empty"),
    ]:
        code, _, err = _cli(capsys, ["train", "translate", "--data", str(path), "--out", str(tmp_path / "r")])
        assert code == 2 and message in err, err
        assert not (tmp_path / "r" / "run.json").exists()  # nothing written for refused data


def test_api_translate_with_attention_and_limits(tiny_run: tuple[Path, dict]) -> None:
    from fastapi.testclient import TestClient

    from rnnkit.server.app import create_app

    client = TestClient(create_app([tiny_run[0]]))
    res = client.post("/api/translate", json={"text": "sun fire moon", "beam": 3, "nbest": 2})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["translations"][0]["text"] == "sol fuego luna" and len(body["translations"]) == 2
    att = body["translations"][0]["attention"]
    assert len(att) == len(body["translations"][0]["tokens"]) and len(att[0]) == len(body["source_tokens"])
    assert client.post("/api/translate", json={"text": ""}).status_code == 422
    assert client.post("/api/translate", json={"text": "sun", "beam": 11}).status_code == 422
    assert client.post("/api/translate", json={"text": "x" * 1001}).status_code == 422
    res = client.post("/api/translate", json={"text": "sun", "beam": 2, "nbest": 3})
    assert res.status_code == 400 and "nbest=3 is not valid" in res.json()["error"]
    (task,) = client.get("/api/tasks").json()
    assert task["name"] == "translate" and task["page"] == "translate.js"


def test_piece_labels_never_show_half_a_character() -> None:
    # A byte-level BPE that never merged "ó" / "ñ" splits them into single bytes; labels decoded
    # piece by piece showed U+FFFD. Each label is what its piece completes instead.
    from rnnkit.data import BPETokenizer
    from rnnkit.tasks.translation.predictor import _readable

    tok = BPETokenizer(vocab_size=262, min_freq=1).fit(["abc def"] * 3)
    text = "canción año"
    ids = tok.encode(text)
    labels = _readable(tok, ids)
    assert len(labels) == len(ids) and "\ufffd" not in "".join(labels)
    assert "".join(label for label in labels if label != "·") == text
    assert "·" in labels  # the first byte of each two-byte letter completes nothing yet
