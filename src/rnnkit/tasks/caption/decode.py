"""Captions from images: greedy or beam search (the shared :mod:`rnnkit.models.search`) over
the decoder's steps, keeping each word's attention map; the slot baseline decodes in one pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rnnkit.data.tokenizers import BOS_ID, EOS_ID, Tokenizer
from rnnkit.tasks.caption.data import to_tensor
from rnnkit.tasks.caption.model import Captioner, SlotCaptioner


@dataclass
class Caption:
    """One generated caption: its words, and per word the attention over the (h, w) feature grid."""

    text: str
    words: list[str]
    attention: np.ndarray | None  # (len(words), h, w), rows sum to 1; None for the slot baseline
    log_prob: float | None = None


def _step(model: Captioner) -> Any:
    def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any, torch.Tensor]:
        logits, new_state, alpha = model.step(tokens, state)
        return torch.log_softmax(logits, dim=-1), new_state, alpha

    return step


@torch.no_grad()
def caption_images(
    model: Captioner | SlotCaptioner,
    images: np.ndarray,
    tok: Tokenizer,
    *,
    beam: int = 1,
    max_len: int = 40,
    batch_size: int = 128,
) -> list[Caption]:
    """(N, H, W, C) uint8 images -> N captions; ``beam`` 1 is greedy search."""
    from rnnkit.models.search import beam_search, greedy_search

    was_training = model.training
    model.eval()
    out: list[Caption] = []
    try:
        for start in range(0, len(images), batch_size):
            x = to_tensor(images[start : start + batch_size])
            if isinstance(model, SlotCaptioner):
                for ids in model.decode(x):
                    words = [tok.id_to_token(i) for i in ids if i != EOS_ID]
                    out.append(Caption(" ".join(words), words, None))
                continue
            state = model.start(x)
            n = x.shape[0]
            common = {"batch_size": n, "bos": BOS_ID, "eos": EOS_ID, "max_len": max_len}
            if beam == 1:
                hyps = greedy_search(_step(model), state, **common)
            else:
                hyps = [nbest[0] for nbest in beam_search(_step(model), state, beam=beam, **common)]
            grid = model.encoder.grid
            for h in hyps:
                words = [tok.id_to_token(int(i)) for i in h.tokens]
                att = None
                if model.attention:  # the ablation's maps are uniform: nothing to show
                    rows = [torch.as_tensor(e).reshape(-1) for e in list(h.extras or [])[: len(words)]]
                    att = (
                        torch.stack(rows).reshape(len(words), *grid).cpu().numpy()
                        if rows
                        else np.zeros((0, *grid), dtype=np.float32)
                    )
                out.append(Caption(" ".join(words), words, att, float(h.log_prob)))
    finally:
        model.train(was_training)
    return out
