"""Show, Attend and Tell on a small CNN, and a CNN-only baseline that fills fixed slots.

References: Xu et al. 2015, "Show, Attend and Tell: Neural Image Caption Generation with
Visual Attention" (soft attention, §3.1.2 and §4.2; init state from the mean annotation,
§3.1.2; deep output, eq. 7); Vinyals et al. 2015, "Show and Tell" (no attention).

Shapes: B batch, C image channels, H x W image, L = h * w feature-map locations, D
feature channels, T caption steps, V vocabulary, U decoder units, A attention units.

The encoder is plain ``torch.nn`` (Conv2d / BatchNorm2d / MaxPool2d): rnnkit's own
convolution layers were not committed when this task was built. The decoder steps one of
rnnkit's own cells (:class:`~rnnkit.layers.LSTMCell` or :class:`~rnnkit.layers.GRUCell`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rnnkit.data.tokenizers import EOS_ID, PAD_ID
from rnnkit.errors import ConfigError, invalid
from rnnkit.layers import AdditiveAttention, GRUCell, LSTMCell
from rnnkit.models import Model

Tensor = torch.Tensor
CELLS = {"lstm": LSTMCell, "gru": GRUCell}


class ConvEncoder(nn.Module):
    """Images (B, C, H, W) in [0, 1] -> annotation vectors (B, L, D) with a position code.

    Each width but the last is a block conv3x3 -> batch norm -> ReLU -> 2x2 max pool; the
    last is one more conv3x3 block without pooling (it widens the receptive field to see
    whole objects). A learned embedding per location is added, so attention can tell
    *where* a feature is: the relations ("left of", "above") depend on it.
    """

    def __init__(self, channels: int, image_size: tuple[int, int], widths: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = channels
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c = w
        self.net = nn.Sequential(*layers)
        pools = 2 ** (len(widths) - 1)
        self.grid = (image_size[0] // pools, image_size[1] // pools)
        if min(self.grid) < 1:
            raise ConfigError(invalid("image_size", image_size, f"at least {pools} pixels a side"))
        self.dim = c
        self.position = nn.Parameter(torch.zeros(self.grid[0] * self.grid[1], c))
        nn.init.normal_(self.position, std=0.02)

    def forward(self, images: Tensor) -> Tensor:
        f = self.net(images - 0.5)  # (B, D, h, w)
        return f.flatten(2).transpose(1, 2) + self.position  # (B, L, D)


class Captioner(Model):
    """CNN encoder -> attention -> LSTM/GRU decoder, trained with teacher forcing.

    One step t, from the previous word y_{t-1} and state (h_{t-1}, c_{t-1})::

        e_ti  = w^T tanh(W_a a_i + U_a h_{t-1})        additive attention, i = 1..L
        alpha = softmax(e_t)                           (B, L): where the word looks
        z_t   = sigmoid(f_beta(h_{t-1})) * sum_i alpha_ti a_i     gated context
        h_t   = Cell([E y_{t-1}; z_t], h_{t-1})
        p(y_t) = softmax(W_o dropout(tanh(E y_{t-1} + L_h h_t + L_z z_t)))   deep output

    ``attention=False`` replaces z_t by the mean annotation (Show and Tell with the
    image fed at each step): the ablation the bench measures. h_0 (and c_0) are
    tanh(W mean_i a_i).

    ``fit(images, tokens)`` trains it: tokens (B, T+1) hold <bos> caption <eos> <pad>...;
    :meth:`train_step` feeds tokens[:, :-1] and scores tokens[:, 1:], ignoring <pad>.
    """

    def __init__(
        self,
        vocab_size: int,
        channels: int = 3,
        image_size: tuple[int, int] | list[int] = (64, 64),
        conv_widths: tuple[int, ...] | list[int] = (16, 32, 64, 96),
        cell: str = "lstm",
        units: int = 128,
        embedding_dim: int = 64,
        attention_units: int = 64,
        attention: bool = True,
        dropout: float = 0.2,
        attention_penalty: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(invalid("cell", cell, sorted(CELLS)))
        self.vocab_size, self.cell_kind, self.attention = vocab_size, cell, bool(attention)
        self.channels, self.image_size = channels, (int(image_size[0]), int(image_size[1]))
        self.attention_penalty = float(attention_penalty)
        self.encoder = ConvEncoder(channels, (int(image_size[0]), int(image_size[1])), tuple(conv_widths))
        D = self.encoder.dim
        self.embed = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.init_h = nn.Linear(D, units)
        self.init_c = nn.Linear(D, units) if cell == "lstm" else None
        self.att_feat = nn.Linear(D, attention_units)
        self.att_hidden = nn.Linear(units, attention_units, bias=False)
        # Bahdanau scores v^T tanh(q + k), softmax, weighted sum of the values (Keras's layer).
        self.attend = AdditiveAttention()
        self.attend.build([(None, 1, attention_units), (None, None, D), (None, None, attention_units)])
        self.gate = nn.Linear(units, D)
        self.cell = CELLS[cell](units)
        self.cell.build((None, embedding_dim + D))
        self.out_h = nn.Linear(units, embedding_dim)
        self.out_z = nn.Linear(D, embedding_dim, bias=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, vocab_size)

    # ---------------------------------------------------------------- decoding state
    def start(self, images: Tensor) -> tuple[Tensor, ...]:
        """The decoder state before the first word: (h, [c,] features, projected features)."""
        feats = self.encoder(images)  # (B, L, D)
        mean = feats.mean(1)  # (B, D)
        h = torch.tanh(self.init_h(mean))
        proj = self.att_feat(feats)  # (B, L, A): computed once, reused at every step
        if self.init_c is not None:
            return h, torch.tanh(self.init_c(mean)), feats, proj
        return h, feats, proj

    def step(self, tokens: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...], Tensor]:
        """One word for every row: tokens (N,) -> (logits (N, V), new state, alpha (N, L))."""
        *cell_state, feats, proj = state
        h = cell_state[0]
        if self.attention:
            query = self.att_hidden(h)[:, None, :]  # (N, 1, A)
            z, alpha = self.attend([query, feats, proj], return_attention_scores=True)
            z, alpha = z.squeeze(1), alpha.squeeze(1)  # (N, D), (N, L)
        else:
            alpha = feats.new_full(feats.shape[:2], 1.0 / feats.shape[1])
            z = feats.mean(1)
        z = torch.sigmoid(self.gate(h)) * z
        emb = self.embed(tokens)  # (N, E)
        h_new, new_cell = self.cell(torch.cat([emb, z], dim=-1), cell_state, training=self.training)
        logits = self.head(self.drop(torch.tanh(emb + self.out_h(h_new) + self.out_z(z))))
        return logits, (*new_cell, feats, proj), alpha

    def forward(self, images: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing: images (B, C, H, W), tokens (B, T) -> logits (B, T, V), alphas (B, T, L)."""
        state = self.start(images)
        logits, alphas = [], []
        for t in range(tokens.shape[1]):
            lg, state, alpha = self.step(tokens[:, t], state)
            logits.append(lg)
            alphas.append(alpha)
        return torch.stack(logits, 1), torch.stack(alphas, 1)

    # ---------------------------------------------------------------- training
    def _loss(self, images: Tensor, tokens: Tensor, forward: Any) -> tuple[Tensor, Tensor]:
        inp, target = tokens[:, :-1], tokens[:, 1:]  # (B, T): predict each next word
        logits, alphas = forward((images, inp))
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=PAD_ID)
        loss = ce
        if self.attention and self.attention_penalty:
            # §4.2.1 "doubly stochastic" attention: each location attended about once overall.
            keep = (target != PAD_ID).float()[..., None]  # (B, T, 1)
            total = (alphas * keep).sum(1)  # (B, L)
            loss = loss + self.attention_penalty * ((1.0 - total) ** 2).mean()
        mask = target != PAD_ID
        correct = ((logits.argmax(-1) == target) & mask).sum() / mask.sum().clamp(min=1)
        return loss, correct

    def train_step(self, data: tuple[Any, Any, Tensor | None]) -> dict[str, Any]:
        images, tokens, _ = data
        loss, acc = self._loss(images, tokens, self.train_forward)
        self.optimizer.zero_grad()  # type: ignore[union-attr]
        loss.backward()
        self.optimizer.step()  # type: ignore[union-attr]
        return {"loss": loss.detach(), "token_accuracy": acc.detach()}

    @torch.no_grad()
    def test_step(self, data: tuple[Any, Any, Tensor | None]) -> dict[str, Any]:
        images, tokens, _ = data
        loss, acc = self._loss(images, tokens, lambda x: self(*x))
        return {"loss": loss, "token_accuracy": acc}


class SlotCaptioner(Model):
    """The CNN-only baseline: the same encoder, then an MLP predicting ``slots`` words at once.

    p(y_k | image) for k = 1..K independently (K = the longest caption); slots after the
    caption's end must predict <pad>. No recurrence: it cannot condition a word on the
    words it chose before, which is what the bench measures against :class:`Captioner`.
    """

    def __init__(
        self,
        vocab_size: int,
        slots: int,
        channels: int = 3,
        image_size: tuple[int, int] | list[int] = (64, 64),
        conv_widths: tuple[int, ...] | list[int] = (16, 32, 64, 96),
        units: int = 512,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.vocab_size, self.slots = vocab_size, slots
        self.channels, self.image_size = channels, (int(image_size[0]), int(image_size[1]))
        self.encoder = ConvEncoder(channels, (int(image_size[0]), int(image_size[1])), tuple(conv_widths))
        L = self.encoder.grid[0] * self.encoder.grid[1]
        self.mlp = nn.Sequential(
            nn.Flatten(),
            nn.Linear(L * self.encoder.dim, units),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(units, slots * vocab_size),
        )

    def forward(self, images: Tensor) -> Tensor:
        """images (B, C, H, W) -> logits (B, K, V)."""
        return self.mlp(self.encoder(images)).view(-1, self.slots, self.vocab_size)

    def _loss(self, images: Tensor, tokens: Tensor, forward: Any) -> tuple[Tensor, Tensor]:
        target = slot_targets(tokens, self.slots)
        logits = forward(images)
        loss = F.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1))
        whole = (logits.argmax(-1) == target).all(1).float().mean()
        return loss, whole

    def train_step(self, data: tuple[Any, Any, Tensor | None]) -> dict[str, Any]:
        images, tokens, _ = data
        loss, whole = self._loss(images, tokens, self.train_forward)
        self.optimizer.zero_grad()  # type: ignore[union-attr]
        loss.backward()
        self.optimizer.step()  # type: ignore[union-attr]
        return {"loss": loss.detach(), "exact": whole.detach()}

    @torch.no_grad()
    def test_step(self, data: tuple[Any, Any, Tensor | None]) -> dict[str, Any]:
        images, tokens, _ = data
        loss, whole = self._loss(images, tokens, self)
        return {"loss": loss, "exact": whole}

    @torch.no_grad()
    def decode(self, images: Tensor) -> list[list[int]]:
        """The words of each image, up to its first <pad> slot."""
        out = []
        for row in self(images).argmax(-1).tolist():
            words = row[: row.index(PAD_ID)] if PAD_ID in row else row
            out.append(words)
        return out


def slot_targets(tokens: Tensor, slots: int) -> Tensor:
    """(B, T+1) <bos> words <eos> <pad>... -> (B, slots) words then <pad> (no bos/eos)."""
    words = tokens[:, 1:].clone()
    words[words == EOS_ID] = PAD_ID  # <eos> -> an empty slot
    if words.shape[1] < slots:
        words = F.pad(words, (0, slots - words.shape[1]), value=PAD_ID)
    return words[:, :slots]
