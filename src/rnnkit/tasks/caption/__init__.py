"""Image captioning: a CNN that sees, an RNN that describes (Show, Attend and Tell).

``rnnkit train caption --data shapes_captions --out runs/cap``, then
``rnnkit caption runs/cap image.png [--beam 3] [--plot attention.png]``; from Python,
``CaptionPredictor.load(run_dir).caption(image)`` (rnnkit.tasks.caption.predictor).
Light on purpose: importing the package imports no torch.
"""

from rnnkit.tasks.caption.config import CaptionConfig

__all__ = ["CaptionConfig"]
