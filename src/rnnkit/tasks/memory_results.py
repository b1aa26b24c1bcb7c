"""Moved to :mod:`rnnkit.labs.memory_results` (a measured demonstration, not a task); this name keeps
earlier imports working and is the same module object."""

import sys

from rnnkit.labs import memory_results as _moved

sys.modules[__name__] = _moved
