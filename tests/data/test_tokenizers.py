"""Tokenizers: id layout, options, round-trips (hypothesis), JSON save/load, errors."""

import json
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import BPETokenizer, CharTokenizer, WordTokenizer, load_tokenizer
from rnnkit.data.tokenizers import SPECIAL_TOKENS
from rnnkit.errors import ConfigError, DataError

CORPUS = ["The movie was fantastic!", "The plot was dull, and the acting: worse.", "I don't know."]


def test_special_ids_are_fixed():
    tok = WordTokenizer().fit(CORPUS)
    assert tok.vocab[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert tok.encode("the", add_bos=True, add_eos=True) == [2, tok.token_to_id("the"), 3]


def test_word_options():
    assert WordTokenizer().tokenize("Good, isn't it?") == ["good", ",", "isn't", "it", "?"]
    assert WordTokenizer(punctuation="strip").tokenize("Good, isn't it?") == ["good", "isn't", "it"]
    assert WordTokenizer(lower=False, punctuation="keep").tokenize("Good, it <unk> N") == [
        "Good,",
        "it",
        "<unk>",
        "N",
    ]
    # <unk> written in a corpus (PTB does this) stays one token in split mode too
    assert WordTokenizer().tokenize("a <unk> b") == ["a", "<unk>", "b"]


def test_frequency_order_min_freq_and_max_size():
    tok = WordTokenizer(min_freq=2).fit(["b a a c", "a b"])
    assert tok.vocab[4:] == ["a", "b"]  # c seen once; a (3) before b (2)
    tok = WordTokenizer(max_size=5).fit(["b a a c", "a b"])
    assert tok.vocab_size == 5 and tok.vocab[4] == "a"
    assert tok.encode("b") == [1]


def test_unknown_words_map_to_unk_and_stay_visible():
    tok = WordTokenizer().fit(CORPUS)
    assert tok.decode(tok.encode("the zebra")) == "the <unk>"


def test_decode_skips_padding():
    tok = CharTokenizer().fit(["ab"])
    assert tok.decode([0, 0, 2, *tok.encode("ba"), 3]) == "ba"
    assert tok.decode([2, *tok.encode("a")], skip_special=False) == "<bos>a"


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_char_round_trip(text):
    tok = CharTokenizer().fit([text])
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet=string.ascii_letters + string.digits + " ,.!?'-\n", max_size=40), min_size=1)
)
def test_word_round_trip_is_the_normalized_text(texts):
    tok = WordTokenizer().fit(texts)
    for t in texts:
        ids = tok.encode(t)
        assert tok.decode(ids) == " ".join(tok.tokenize(t))
        assert tok.encode(tok.decode(ids)) == ids  # decoding then encoding changes nothing


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer(vocab_size=400, min_freq=1).fit(CORPUS * 5)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=60))
def test_bpe_round_trip_any_text(bpe, text):
    assert bpe.decode(bpe.encode(text)) == text  # byte-level: emoji, accents, control chars


def test_bpe_specials_and_batch(bpe):
    assert bpe.vocab[:4] == list(SPECIAL_TOKENS)
    ids = bpe.encode_batch(["the movie", "été"], add_bos=True, add_eos=True)
    assert ids[0][0] == 2 and ids[0][-1] == 3
    assert bpe.decode(ids[1]) == "été"


@pytest.mark.parametrize(
    "tok",
    [CharTokenizer(lower=True), WordTokenizer(punctuation="strip", min_freq=1), BPETokenizer(vocab_size=300)],
    ids=["char", "word", "bpe"],
)
def test_save_load_is_identical_json(tok, tmp_path):
    tok.fit(CORPUS)
    path = tok.save(tmp_path / "tok" / "tokenizer.json")
    data = json.loads(path.read_text(encoding="utf-8"))  # plain JSON, no pickle
    assert data["type"] == tok.kind
    back = load_tokenizer(path)
    assert type(back) is type(tok)
    assert back.vocab == tok.vocab
    for t in [*CORPUS, "unseen words here"]:
        assert back.encode(t) == tok.encode(t)
    assert type(tok).load(path).to_dict() == tok.to_dict()


def test_errors_are_pinned(tmp_path):
    with pytest.raises(
        ConfigError, match=r"^punctuation='drop' is not valid: expected one of 'split', 'strip', 'keep'\.$"
    ):
        WordTokenizer(punctuation="drop")
    with pytest.raises(ConfigError, match=r"^min_freq=0 is not valid: expected an integer >= 1\.$"):
        CharTokenizer(min_freq=0)
    with pytest.raises(
        DataError, match=r"^WordTokenizer has no vocabulary yet: call fit\(texts\) or load\(path\)\.$"
    ):
        WordTokenizer().encode("hi")
    with pytest.raises(DataError, match="texts is empty"):
        WordTokenizer().fit([])
    with pytest.raises(ConfigError, match="an iterable of strings, not one string"):
        WordTokenizer().fit("a whole corpus as one string")
    with pytest.raises(DataError, match=r"^id=99 is not valid: expected an integer in \[0, 5\]\.$"):
        CharTokenizer().fit(["ab"]).decode([99])
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "sentencepiece", "vocab": []}')
    with pytest.raises(
        DataError, match=r"^type='sentencepiece' is not valid: expected one of 'bpe', 'char', 'word'\.$"
    ):
        load_tokenizer(bad)
    with pytest.raises(DataError, match="tokenizer file not found"):
        load_tokenizer(tmp_path / "nope.json")


def test_bpe_text_spelling_a_special_token_stays_text(bpe):
    for text in ("<pad>", "a <unk> b", "<bos><eos>"):
        ids = bpe.encode(text)
        assert not {0, 1, 2, 3} & set(ids)
        assert bpe.decode(ids) == text


def test_a_lower_casing_word_tokenizer_remembers_how_words_are_written(tmp_path):
    texts = ["Call me Ishmael. I saw the whale.", "The whale saw me, and I ran.", "iPhone? the iPhone."]
    tok = WordTokenizer(lower=True).fit(texts)
    assert tok.casing == {"ishmael": "Ishmael", "i": "I", "iphone": "iPhone", "call": "Call"}
    assert tok.cased("whale") == "whale" and tok.cased("i") == "I"
    assert tok.cased("whale", sentence_start=True) == "Whale"
    assert tok.cased("iphone", sentence_start=True) == "iPhone"  # a written form is kept as written
    assert load_tokenizer(tok.save(tmp_path / "t.json")).casing == tok.casing
    # A lower-case corpus (PTB) gets no casing table and no capitals at sentence starts.
    ptb = WordTokenizer(lower=True).fit(["the company said . it expects a loss"])
    assert ptb.casing == {} and ptb.cased("it", sentence_start=True) == "it"
    assert WordTokenizer(lower=False).fit(texts).casing == {}
