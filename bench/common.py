"""Moved to rnnkit.benchmarks.common; this name stays for scripts not yet switched over."""

from rnnkit.benchmarks.common import (  # noqa: F401
    RESULTS,
    alternate,
    alternate_all,
    environment,
    table,
    write_json,
)
