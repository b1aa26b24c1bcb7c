"""Train a small model; run plainly or under ``torchrun --nproc_per_node N`` (used by test_distributed).

usage: python train_ddp.py OUT_JSON CKPT_PATH
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch

from rnnkit import Sequential, callbacks, layers, set_seed
from rnnkit.models import distributed

torch.set_num_threads(1)
out, ckpt = sys.argv[1], sys.argv[2]
set_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(200, 8, 3)).astype("float32")
y = (x[:, :, 0].sum(axis=1) > 0).astype("float32")
model = Sequential([layers.LSTM(8), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
h = model.fit(
    x,
    y,
    epochs=4,
    batch_size=32,
    validation_split=0.2,
    verbose=2,
    callbacks=[callbacks.ModelCheckpoint(ckpt)],
)
if distributed.is_main_process():
    with open(out, "w") as f:
        json.dump({"history": h.history, "world": distributed.world_size()}, f)
distributed.cleanup()
