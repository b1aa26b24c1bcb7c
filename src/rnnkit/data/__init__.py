"""Data utilities: tokenizers, padding and batching, LM batching, time-series windows, loaders.

Everything here depends only on numpy, torch and :mod:`rnnkit.errors` (BPE also on the
optional ``tokenizers`` package), so it can be used without the layers.
"""

from rnnkit.data.language_modeling import batchify, bptt_batches, get_bptt_batch, sliding_windows
from rnnkit.data.loaders import (
    AudioClips,
    LabeledTexts,
    Series,
    load_aclimdb,
    load_series,
    load_text_classification,
    load_text_file,
    load_text_folder,
    load_wav_folder,
    read_table,
    read_text,
    read_wav,
)
from rnnkit.data.scaling import StandardScaler
from rnnkit.data.sequences import (
    Batch,
    BucketBatchSampler,
    bucket_batches,
    collate,
    lengths_to_mask,
    pad_sequences,
    padding_fraction,
)
from rnnkit.data.timeseries import (
    TimeSplit,
    calendar_features,
    check_numeric,
    make_windows,
    split_by_time,
)
from rnnkit.data.tokenizers import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    load_tokenizer,
)

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "UNK_ID",
    "AudioClips",
    "BPETokenizer",
    "Batch",
    "BucketBatchSampler",
    "CharTokenizer",
    "LabeledTexts",
    "Series",
    "StandardScaler",
    "TimeSplit",
    "Tokenizer",
    "WordTokenizer",
    "batchify",
    "bptt_batches",
    "bucket_batches",
    "calendar_features",
    "check_numeric",
    "collate",
    "get_bptt_batch",
    "lengths_to_mask",
    "load_aclimdb",
    "load_series",
    "load_text_classification",
    "load_text_file",
    "load_text_folder",
    "load_tokenizer",
    "load_wav_folder",
    "make_windows",
    "pad_sequences",
    "padding_fraction",
    "read_table",
    "read_text",
    "read_wav",
    "sliding_windows",
    "split_by_time",
]
