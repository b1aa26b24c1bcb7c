"""The two networks of the music task: a melody LM and a four-voice grid LM.

Both embed every input feature and add the embeddings (one vector per step), run a stack
of LSTM/GRU layers, and factor each step's prediction so that later parts are conditioned
on earlier ones (chain rule, so the summed cross-entropies are an exact NLL):

    melody:      p(pitch_t, dur_t | past) = p(pitch_t | h_t) p(dur_t | h_t, pitch_t)
    four voices: p(S_t, A_t, T_t, B_t | past) = p(S_t | h_t) p(A_t | h_t, S_t) p(T_t | h_t, S_t, A_t) ...

The soprano comes first, so harmonising a given melody is the same model with S_t fixed.
Conditioning known before the first note: key (24), meter, where the first note falls in
its bar (through ``pos``), and how far the piece still runs (``left``, so endings cadence).

Shapes: B pieces, N notes, T grid steps, V = 4 voices, E embedding, H units.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit import layers
from rnnkit.core.cells import State, cell_step
from rnnkit.errors import ConfigError, invalid
from rnnkit.models import Model
from rnnkit.tasks.music.data import (
    BOS_DUR,
    BOS_PITCH,
    BOS_TOKEN,
    DURATIONS,
    N_LEFT,
    N_PITCH,
    N_POS,
    N_TOKENS,
)
from rnnkit.tasks.music.theory import METERS

CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}
Tensor = torch.Tensor


def _masked_ce(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Summed cross-entropy over real positions (target -1 = padding) and their count."""
    flat = target.reshape(-1)
    loss = F.cross_entropy(logits.reshape(flat.numel(), -1), flat, ignore_index=-1, reduction="sum")
    return loss, (flat >= 0).sum()


def _per_piece(ctx: Tensor, e: Tensor) -> Tensor:
    """(B, E) piece-level context, broadcast over time when ``e`` is (B, T, E) (training)
    and as is when ``e`` is (B, E) (one generation step)."""
    return ctx.unsqueeze(1) if e.dim() == 3 else ctx


class _Backbone(Model):
    """Embeddings are added by the subclass; this holds the recurrent stack and the step."""

    def _build_stack(self, embed: int, units: int, num_layers: int, cell: str, dropout: float) -> None:
        if cell not in CELLS:
            raise ConfigError(invalid("cell", cell, CELLS))
        self.rnns = nn.ModuleList(
            CELLS[cell](units, return_sequences=True, input_shape=(None, embed if i == 0 else units))
            for i in range(num_layers)
        )
        self.drop = layers.Dropout(dropout)

    def _run(self, x: Tensor) -> Tensor:
        """(B, T, E) -> (B, T, H) through the stack, dropout between layers and after."""
        for rnn in self.rnns:
            x = rnn(self.drop(x))
        return self.drop(x)

    def initial_states(self, batch: int) -> list[State]:
        out: list[State] = []
        for rnn in self.rnns:
            z = torch.zeros(batch, rnn.units)
            out.append((z, z.clone()) if rnn.cell.params().kind == "lstm" else (z,))
        return out

    @torch.no_grad()
    def step(self, x: Tensor, states: list[State]) -> tuple[Tensor, list[State]]:
        """One time step for generation: (B, E) -> (B, H), carrying the states (no re-run)."""
        new = []
        for rnn, s in zip(self.rnns, states, strict=True):
            s = cell_step(x, s, rnn.cell.params())
            new.append(s)
            x = s[0]
        return x, new


class MelodyLM(_Backbone):
    """Soprano LM over (pitch, duration) notes; :meth:`forward` returns both heads' logits."""

    def __init__(
        self, units: int = 256, num_layers: int = 2, embed: int = 64, cell: str = "lstm", dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.units = units
        self.pitch_emb = layers.Embedding(BOS_PITCH + 1, embed)
        self.dur_emb = layers.Embedding(BOS_DUR + 1, embed)
        self.degree_emb = layers.Embedding(13, embed)
        self.pos_emb = layers.Embedding(N_POS, embed)
        self.left_emb = layers.Embedding(N_LEFT, embed)
        self.key_emb = layers.Embedding(24, embed)
        self.meter_emb = layers.Embedding(len(METERS), embed)
        self._build_stack(embed, units, num_layers, cell, dropout)
        self.pitch_head = layers.Dense(N_PITCH, input_shape=(units,))
        # The duration head sees the pitch just chosen: p(dur | h, pitch).
        self.next_pitch_emb = layers.Embedding(N_PITCH, units)
        self.dur_hidden = layers.Dense(units, activation="tanh", input_shape=(units,))
        self.dur_head = layers.Dense(len(DURATIONS), input_shape=(units,))

    def embed(
        self,
        pitch_in: Tensor,
        dur_in: Tensor,
        degree_in: Tensor,
        pos: Tensor,
        left: Tensor,
        key: Tensor,
        meter: Tensor,
    ) -> Tensor:
        """Sum of the feature embeddings: (B, N) ids -> (B, N, E), or (B,) -> (B, E) for one step."""
        e = self.pitch_emb(pitch_in) + self.dur_emb(dur_in) + self.degree_emb(degree_in)
        e = e + self.pos_emb(pos) + self.left_emb(left)
        return e + _per_piece(self.key_emb(key) + self.meter_emb(meter), e)

    def dur_logits(self, h: Tensor, pitch: Tensor) -> Tensor:
        return self.dur_head(self.dur_hidden(h + self.next_pitch_emb(pitch.clamp(min=0))))

    def forward(
        self,
        pitch_in: Tensor,
        dur_in: Tensor,
        degree_in: Tensor,
        pos: Tensor,
        left: Tensor,
        key: Tensor,
        meter: Tensor,
        pitch: Tensor,
    ) -> tuple[Tensor, Tensor]:
        h = self._run(self.embed(pitch_in, dur_in, degree_in, pos, left, key, meter))  # (B, N, H)
        return self.pitch_head(h), self.dur_logits(h, pitch)  # (B, N, 129), (B, N, D)

    def compute_loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Tensor | None = None) -> Tensor:
        """Mean NLL per note in nats: CE(pitch) + CE(duration | pitch)."""
        (lp, ld), (tp, td) = y_pred, y
        a, n = _masked_ce(lp, tp)
        b, _ = _masked_ce(ld, td)
        return (a + b) / n.clamp(min=1)


class ChoraleLM(_Backbone):
    """Four voices on a sixteenth grid; :meth:`forward` returns (B, T, V, N_TOKENS) logits."""

    def __init__(
        self,
        units: int = 384,
        num_layers: int = 2,
        embed: int = 96,
        cell: str = "lstm",
        dropout: float = 0.3,
        voices: int = 4,
    ) -> None:
        super().__init__()
        self.units, self.voices = units, voices
        self.tok_emb = nn.ModuleList(layers.Embedding(BOS_TOKEN + 1, embed) for _ in range(voices))
        self.sound_emb = nn.ModuleList(layers.Embedding(BOS_PITCH + 1, embed) for _ in range(voices))
        self.degree_emb = nn.ModuleList(layers.Embedding(13, embed) for _ in range(voices))
        self.pos_emb = layers.Embedding(N_POS, embed)
        self.left_emb = layers.Embedding(N_LEFT, embed)
        self.key_emb = layers.Embedding(24, embed)
        self.meter_emb = layers.Embedding(len(METERS), embed)
        self._build_stack(embed, units, num_layers, cell, dropout)
        # Voice v's head sees h and the tokens/sounds chosen for voices 0..v-1 at this step.
        self.cond_tok = nn.ModuleList(layers.Embedding(N_TOKENS, units) for _ in range(voices - 1))
        self.cond_sound = nn.ModuleList(layers.Embedding(N_PITCH, units) for _ in range(voices - 1))
        self.hidden = nn.ModuleList(
            layers.Dense(units, activation="relu", input_shape=(units,)) for _ in range(voices)
        )
        self.heads = nn.ModuleList(layers.Dense(N_TOKENS, input_shape=(units,)) for _ in range(voices))

    def embed(
        self,
        tok_in: Tensor,
        sound_in: Tensor,
        degree_in: Tensor,
        pos: Tensor,
        left: Tensor,
        key: Tensor,
        meter: Tensor,
    ) -> Tensor:
        """(B, T, V) ids per voice, (B, T) pos/left, (B,) key/meter -> (B, T, E)."""
        e = self.pos_emb(pos) + self.left_emb(left)
        e = e + _per_piece(self.key_emb(key) + self.meter_emb(meter), e)
        for v in range(self.voices):
            e = e + self.tok_emb[v](tok_in[..., v]) + self.sound_emb[v](sound_in[..., v])
            e = e + self.degree_emb[v](degree_in[..., v])
        return e

    def voice_logits(self, v: int, h: Tensor, tok: Tensor, sound: Tensor) -> Tensor:
        """Logits of voice v (..., N_TOKENS) given h (..., H) and voices < v's tokens/sounds (..., V)."""
        z = h
        for u in range(v):
            z = (
                z
                + self.cond_tok[u](tok[..., u].clamp(min=0))
                + self.cond_sound[u](sound[..., u].clamp(min=0))
            )
        return self.heads[v](self.hidden[v](z))

    def forward(
        self,
        tok_in: Tensor,
        sound_in: Tensor,
        degree_in: Tensor,
        pos: Tensor,
        left: Tensor,
        key: Tensor,
        meter: Tensor,
        tok: Tensor,
        sound: Tensor,
    ) -> Tensor:
        h = self._run(self.embed(tok_in, sound_in, degree_in, pos, left, key, meter))  # (B, T, H)
        return torch.stack([self.voice_logits(v, h, tok, sound) for v in range(self.voices)], dim=2)

    def compute_loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Tensor | None = None) -> Tensor:
        """Mean NLL per grid step in nats: the four voices' cross-entropies summed."""
        total, n = _masked_ce(y_pred, y)
        return total / (n.clamp(min=1) / self.voices)
