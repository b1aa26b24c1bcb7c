"""Transcribing batches and scoring them: word and character error rates with jiwer.

WER = (substitutions + deletions + insertions) / reference words (CER the same over
characters), summed over the whole set, not averaged per utterance (jiwer's corpus measure).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnkit.tasks.audio.frontend import pad_frames

from .decoding import Alphabet, WordLM, greedy_decode, normalize_text, prefix_beam_search
from .model import SpeechRecognizer


@dataclass
class Decoder:
    """How to turn log-probabilities into text: greedy (``beam=0``) or prefix beam search."""

    alphabet: Alphabet
    beam: int = 0
    lm: WordLM | None = None
    alpha: float = 0.5
    beta: float = 0.0
    constrain: bool = False  # keep only words of the LM's vocabulary (character models)

    def __call__(self, log_probs: np.ndarray) -> str:
        if self.beam <= 0:
            return self.alphabet.decode(greedy_decode(log_probs))
        vocab = self.lm.vocabulary if (self.constrain and self.lm is not None) else None
        hyps = prefix_beam_search(
            log_probs,
            self.alphabet,
            beam=self.beam,
            lm=self.lm if self.alpha > 0 else None,
            alpha=self.alpha,
            beta=self.beta,
            vocabulary=vocab,
        )
        if not hyps:  # the constraint left nothing: fall back to the unconstrained best path
            return self.alphabet.decode(greedy_decode(log_probs))
        return hyps[0].text


@torch.no_grad()
def log_probs_of(
    model: SpeechRecognizer, frames: Sequence[torch.Tensor], batch_size: int = 32
) -> list[np.ndarray]:
    """Each utterance's (T'_i, K) log-probabilities, in the order given (batched by length)."""
    model.eval()
    order = np.argsort([f.shape[0] for f in frames], kind="stable")
    out: list[np.ndarray] = [np.zeros(0)] * len(frames)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        x, lengths = pad_frames([frames[i] for i in idx])
        lp, out_len = model(x, lengths)
        for j, i in enumerate(idx):
            out[i] = lp[j, : int(out_len[j])].numpy()
    return out


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """Corpus WER and CER (jiwer), on normalised text."""
    import jiwer

    refs = [normalize_text(r) for r in references]
    hyps = [normalize_text(h) for h in hypotheses]
    return {"wer": float(jiwer.wer(refs, hyps)), "cer": float(jiwer.cer(refs, hyps))}


def score(
    model: SpeechRecognizer,
    frames: Sequence[torch.Tensor],
    texts: Sequence[str],
    decoders: dict[str, Decoder],
) -> dict[str, dict[str, float]]:
    """WER, CER and decoding seconds of each named decoder on one set (one forward pass for all)."""
    lps = log_probs_of(model, frames)
    out = {}
    for name, dec in decoders.items():
        t0 = time.perf_counter()
        hyps = [dec(lp) for lp in lps]
        out[name] = {**error_rates(texts, hyps), "decode_seconds": time.perf_counter() - t0}
    return out
