"""Moved to :mod:`rnnkit.labs.memory` (a measured demonstration, not a task); this name keeps
earlier imports working and is the same module object."""

import sys

from rnnkit.labs import memory as _moved

sys.modules[__name__] = _moved
