"""Moved to :mod:`rnnkit.labs.gradients` (a measured demonstration, not a task); this name keeps
earlier imports working and is the same module object."""

import sys

from rnnkit.labs import gradients as _moved

sys.modules[__name__] = _moved
