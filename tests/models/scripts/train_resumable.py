"""A training run that backs up every epoch and resumes from its backup (used by test_saving).

usage: python train_resumable.py BACKUP_DIR OUT_WEIGHTS EPOCHS
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from rnnkit import Sequential, callbacks, layers, set_seed

torch.set_num_threads(1)  # bit-identical CPU results need the same thread count in every run
backup_dir, out, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
set_seed(7)
rng = np.random.default_rng(0)
x = rng.normal(size=(96, 8, 3)).astype("float32")
y = (x[:, :, 0].sum(axis=1) > 0).astype("float32")
# dropout and shuffling draw random numbers, so resuming must restore the RNG states too
model = Sequential([layers.LSTM(12, dropout=0.2), layers.Dropout(0.2), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(
    x,
    y,
    epochs=epochs,
    batch_size=16,
    validation_split=0.25,
    verbose=0,
    callbacks=[callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)],
)
model.save_weights(out)
