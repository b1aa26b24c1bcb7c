"""The rule-based baseline: Apertium's English -> Spanish (Debian ``apertium-eng-spa``).

``apertium -u eng-spa`` translates one line per input line; ``-u`` drops the ``*`` marks it
puts on unknown words, so the words are scored as they are (kept untranslated).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from rnnkit.errors import DataError, MissingDependencyError

APERTIUM_HINT = "apt-get install apertium-eng-spa (or scripts/setup-system.sh)"


def apertium_translate(texts: Sequence[str], pair: str = "eng-spa") -> list[str]:
    """Translate ``texts`` with Apertium, one output line per input (newlines inside a text become spaces)."""
    exe = shutil.which("apertium")
    if exe is None:
        raise MissingDependencyError(
            f"the Apertium baseline needs the Debian package apertium: {APERTIUM_HINT}."
        )
    lines = [" ".join(t.split()) for t in texts]
    out = subprocess.run(
        [exe, "-u", pair], input="\n".join(lines) + "\n", capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise MissingDependencyError(f"apertium {pair} failed ({out.stderr.strip()[:200]}): {APERTIUM_HINT}.")
    result = out.stdout.split("\n")
    if result and result[-1] == "":
        result.pop()
    if len(result) != len(lines):
        raise DataError(f"apertium returned {len(result)} lines for {len(lines)} sentences.")
    return [r.strip() for r in result]
