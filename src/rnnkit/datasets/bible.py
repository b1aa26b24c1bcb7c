"""English-Spanish verse pairs from two public-domain Bibles, read with SWORD's ``diatheke``.

World English Bible (``engWEB2015eb``) and Reina-Valera 1909 (``spaRV1909eb``) are
dumped as OSIS, stripped of tags, keyed by "Book C:V" and joined on the key. Dumping
takes ~12 s, so the pairs are cached as JSON in the user cache directory.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess

from rnnkit.datasets.registry import DatasetInfo, PairsDataset, cache_dir, register, seeded_split
from rnnkit.errors import DataError, MissingDependencyError
from rnnkit.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

_MODULES = {"en": "engWEB2015eb", "es": "spaRV1909eb"}
_DEBIAN = "apt-get install diatheke sword-text-web sword-text-sparv (or scripts/setup-system.sh)"
_RANGE = "Genesis 1:1-Revelation 22:21"
# A key is a book name (capitalised words, "of" allowed, optional leading I, II or III) then C:V and ": ".
# It is searched, not anchored: the WEB dump puts psalm titles on the same line before the key.
_KEY = re.compile(r"((?:I{1,3} )?[A-Z][a-z]+(?: (?:of|[A-Z][a-z]+))* \d+:\d+): ")
_TAG = re.compile(r"<[^>]+>")
_CACHE_VERSION = "v2"

# The book-level split ("bible_en_es:books"): whole books held out, so no verse of a test book,
# and none of its near-duplicates inside that book, is seen in training (a random verse split
# leaks repeated formulas and parallel passages). Fixed by hand to mix genres: narrative,
# wisdom, prophets and letters in each; ~1,000 verses each.
HELD_OUT_BOOKS: dict[str, tuple[str, ...]] = {
    "validation": (
        "Esther", "Lamentations", "Obadiah", "Micah", "Ephesians", "Colossians", "Hebrews",
    ),
    "test": (
        "Ruth", "Jonah", "Ecclesiastes", "Joel", "Nahum", "Habakkuk",
        "Galatians", "Philippians", "Titus", "James", "I Peter",
    ),
}  # fmt: skip


def _dump(module: str) -> str:
    exe = shutil.which("diatheke")
    if exe is None:
        raise MissingDependencyError(f"dataset 'bible_en_es' needs the Debian packages diatheke: {_DEBIAN}.")
    out = subprocess.run(
        [exe, "-b", module, "-f", "OSIS", "-k", _RANGE], capture_output=True, text=True, check=False
    )
    if out.returncode != 0 or out.stdout.count("\n") < 1000:
        raise MissingDependencyError(
            f"dataset 'bible_en_es': diatheke could not read the SWORD module {module}: {_DEBIAN}."
        )
    return out.stdout


def parse_osis_dump(text: str) -> dict[str, str]:
    """``diatheke -f OSIS`` output -> {"Book C:V": plain verse text}."""
    verses: dict[str, str] = {}
    for line in text.splitlines():
        m = _KEY.search(line)
        if m is None:
            continue
        body = m.string[m.end() :]
        # The English module glues adjacent words ("<w>God</w><w>created</w>"): a space goes between.
        body = body.replace("</w><w", "</w> <w")
        body = _TAG.sub("", body)
        verses[m.group(1)] = " ".join(body.split())
    return verses


def align(
    en: dict[str, str], es: dict[str, str], low: float = 0.5, high: float = 2.0
) -> list[tuple[str, str, str]]:
    """(key, en, es) for keys in both, dropping pairs whose length ratio es/en is outside [low, high]
    (a few chapters are numbered differently in the two traditions)."""
    pairs = []
    for key, e in en.items():
        s = es.get(key)
        if s and e and low <= len(s) / len(e) <= high:
            pairs.append((key, e, s))
    return pairs


@register(
    DatasetInfo(
        name="bible_en_es",
        task="translation EN -> ES",
        description=(
            "Verse pairs from the World English Bible (2015) and the Reina-Valera 1909, both public "
            "domain, read with diatheke and keyed by 'Book C:V'; pairs whose length ratio is outside "
            "0.5-2 are dropped (differently numbered chapters). Seeded split with 1,000 validation "
            "and 1,000 test verses; variant 'books' holds out whole books instead (7 books, 999 "
            "validation verses; 11 books, 1,039 test verses). First load ~12 s, then cached."
        ),
        license="public domain (both translations)",
        source="Debian diatheke + sword-text-web + sword-text-sparv",
        size="30,998 verse pairs",
        splits={"train": 28_998, "validation": 1_000, "test": 1_000},
        requires=_DEBIAN,
        variants=("random", "books"),
        default_variant="random",
        slow=True,
    )
)
def load_bible_en_es(info: DatasetInfo, variant: str | None = None) -> PairsDataset:
    cached = cache_dir("bible") / f"en_es-{_CACHE_VERSION}.json"
    if cached.is_file():
        pairs = [tuple(p) for p in json.loads(cached.read_text(encoding="utf-8"))]
    else:
        en, es = (parse_osis_dump(_dump(_MODULES[lang])) for lang in ("en", "es"))
        pairs = align(en, es)
        if len(pairs) < 20_000:
            raise DataError(
                f"dataset 'bible_en_es': only {len(pairs)} verse pairs aligned; the modules look wrong."
            )
        # Atomic, so a parallel test worker never reads a half-written cache.
        atomic_write_json(cached, pairs, indent=None)
        logger.info("bible_en_es: cached %d verse pairs in %s", len(pairs), cached)
    if variant == "books":
        tr, va, te = book_split([key for key, _, _ in pairs])
    else:
        tr, va, te = seeded_split(len(pairs), info.splits["validation"], info.splits["test"])

    def take(idx):  # type: ignore[no-untyped-def]
        return [(pairs[i][1], pairs[i][2]) for i in idx]

    keys = {
        "train": [pairs[i][0] for i in tr],
        "validation": [pairs[i][0] for i in va],
        "test": [pairs[i][0] for i in te],
    }
    return PairsDataset(info, take(tr), take(va), take(te), keys)


def book_of(key: str) -> str:
    """ "I Peter 2:3" -> "I Peter"."""
    return key.rsplit(" ", 1)[0]


def book_split(keys: list[str]) -> tuple[list[int], list[int], list[int]]:
    """Indices (train, validation, test) with every verse of a held-out book on its side."""
    side = {book: split for split, books in HELD_OUT_BOOKS.items() for book in books}
    parts: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for i, key in enumerate(keys):
        parts[side.get(book_of(key), "train")].append(i)
    return parts["train"], parts["validation"], parts["test"]
