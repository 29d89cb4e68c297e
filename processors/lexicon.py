"""The drug lexicon: surface names (brands, generics, synonyms) mapped to lower-case generics.

Built from the open vocabulary shipped by PyPI's ``drug-named-entity-recognition`` (MIT; DrugBank
open data, MeSH, MedlinePlus, NHS) and curated with Vigil's own data files in
``processors/data/``:

- ``drug_denylist.txt``: names that are never drugs in patient talk (source junk, codes).
- ``drug_ambiguous.txt``: names that are drugs only in a drug context ("plan b", "alli").
- ``drug_extra.tsv``: brands the source lacks or maps wrongly, ``name<TAB>generic;generic``.
- ``generic_overrides.tsv``: the source's canonical name to the generic(s) Vigil reports.
- ``common_drugs.txt``: widely discussed drugs; they are never ambiguous and are the targets of
  the fuzzy (misspelling) step.

Single words that are common English (word frequency from ``wordfreq``) become ambiguous unless
listed as common drugs, because a plain lexicon match on social text is mostly false positives.
"""

from __future__ import annotations

import bz2
import hashlib
import importlib.resources
import pickle
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from processors.exceptions import LexiconError

__all__ = ["DrugEntry", "DrugLexicon", "build_lexicon", "load_lexicon", "normalise_generic"]

#: Zipf frequency (log10 per billion words) from which a single word counts as common English.
COMMON_WORD_ZIPF = 2.7
#: Above this a name is so common ("today", "focus") it is dropped rather than made ambiguous.
DROP_WORD_ZIPF = 4.6
_DATA = importlib.resources.files("processors") / "data"
_ALLOWED = re.compile(r"^[a-z][a-z0-9' .\-]*[a-z0-9]$")
# Research codes and lab abbreviations: "il-2", "sn-38", "t-20", "at-10", "5-fu".
_CODE_LIKE = re.compile(r"(^[a-z]{1,5}[- ]?\d)|(^\d)|(\d{2,})")
_PAREN = re.compile(r"\s*\([^)]*\)")
# Salt and ester words dropped from generics: patients and pharmacovigilance talk of the moiety.
_SALTS = frozenset(
    [
        "hydrochloride",
        "hcl",
        "dihydrochloride",
        "sodium",
        "potassium",
        "calcium",
        "magnesium",
        "fumarate",
        "maleate",
        "sulfate",
        "sulphate",
        "succinate",
        "tartrate",
        "bitartrate",
        "besylate",
        "mesylate",
        "citrate",
        "acetate",
        "bromide",
        "hydrobromide",
        "phosphate",
        "dihydrate",
        "monohydrate",
        "trihydrate",
        "hyclate",
        "propionate",
        "dipropionate",
        "valerate",
        "hemifumarate",
        "carbonate",
    ]
    # and dosage-form words: "sumatriptan nasal" is sumatriptan
    + [
        "nasal",
        "oral",
        "topical",
        "injection",
        "injectable",
        "ophthalmic",
        "spray",
        "tablet",
        "tablets",
        "capsule",
        "capsules",
        "solution",
        "suspension",
        "cream",
        "ointment",
        "gel",
        "patch",
        "er",
        "xr",
        "sr",
        "ir",
        "dr",
        "extended-release",
        "delayed-release",
    ]
)
_KEEP_WHOLE = frozenset({"ferrous", "ferric", "cupric", "stannous"})
# Generics that are really drug classes or product types ("penicillins", "eye drops").
_CLASS = re.compile(
    r"(inhibitors|antagonists|agonists|agents|solutions|vaccines?|supplements?|contraceptives|blockers|drugs|"
    r"preparations|products|derivatives|compounds|penicillins|cephalosporins|statins|steroids|antibiotics|"
    r"antidepressants|antihistamines|analgesics|anesthetics|hormones|drops|creams|ointments|ines)$"
)
_COMBO_SPLIT = re.compile(r"\s*/\s*|\s*,\s*(?:and\s+)?|\s+and\s+")


@dataclass(frozen=True, slots=True)
class DrugEntry:
    """One surface name.

    Attributes:
        name: Lower-case surface form as written by patients ("humira", "insulin glargine").
        generics: Lower-case generic names; a combination brand has several; none for a blocker
            (a phrase such as "insulin resistance" that contains a drug name but is no mention).
        tokens: The name as the English tokenizer splits it ("epi-pen" -> epi, -, pen).
        ambiguous: Only a drug when drug context is near ("plan b", "alli").
        common: Widely discussed; a target of the misspelling step.
    """

    name: str
    generics: tuple[str, ...]
    tokens: tuple[str, ...]
    ambiguous: bool = False
    common: bool = False


@dataclass
class DrugLexicon:
    """All curated entries, by lower-case name."""

    entries: dict[str, DrugEntry] = field(default_factory=dict)
    version: str = ""

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def get(self, name: str) -> DrugEntry | None:
        """The entry for a name, matched lower-case."""
        return self.entries.get(name.lower())

    def generics(self) -> set[str]:
        """Every generic the lexicon can report."""
        return {g for e in self.entries.values() for g in e.generics}

    def to_jsonl(self, path: Path) -> None:
        """Write the lexicon; the first line holds its version."""
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            out.write(orjson.dumps({"version": self.version}) + b"\n")
            for e in self.entries.values():
                row = {
                    "name": e.name,
                    "generics": e.generics,
                    "tokens": e.tokens,
                    "ambiguous": e.ambiguous,
                    "common": e.common,
                }
                out.write(orjson.dumps(row) + b"\n")
        tmp.replace(path)

    @classmethod
    def from_jsonl(cls, path: Path) -> DrugLexicon:
        """Read a lexicon written by :meth:`to_jsonl`."""
        with path.open("rb") as f:
            header = orjson.loads(f.readline())
            entries = {}
            for line in f:
                row = orjson.loads(line)
                entries[row["name"]] = DrugEntry(
                    row["name"], tuple(row["generics"]), tuple(row["tokens"]), row["ambiguous"], row["common"]
                )
        return cls(entries, header["version"])


def curation_fingerprint() -> str:
    """A short hash of the curation files, this module's code and the source package version."""
    digest = hashlib.sha256(f"format-3/{_source_version()}".encode())
    digest.update(Path(__file__).read_bytes())  # the build code itself: a change rebuilds the cache
    digest.update(f"{COMMON_WORD_ZIPF}/{DROP_WORD_ZIPF}".encode())
    for name in (
        "drug_denylist.txt",
        "drug_ambiguous.txt",
        "drug_extra.tsv",
        "generic_overrides.tsv",
        "common_drugs.txt",
    ):
        digest.update((_DATA / name).read_bytes())
    return digest.hexdigest()[:12]


def load_lexicon(cache_dir: Path | None = None) -> DrugLexicon:
    """Load the compiled lexicon from ``cache_dir``, building (and caching) it when stale.

    Args:
        cache_dir: Where compiled lexicons are kept, outside git; ``None`` builds in memory.
    """
    version = curation_fingerprint()
    if cache_dir is not None:
        path = cache_dir / f"drug_lexicon-{version}.jsonl"
        if path.exists():
            try:
                return DrugLexicon.from_jsonl(path)
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)
    lexicon = build_lexicon()
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        lexicon.to_jsonl(cache_dir / f"drug_lexicon-{version}.jsonl")
    return lexicon


def build_lexicon() -> DrugLexicon:
    """Build the curated lexicon from the source vocabulary and Vigil's curation files."""
    import spacy
    from wordfreq import zipf_frequency

    variants = _source_variants()
    denylist = set(_read_lines("drug_denylist.txt"))
    ambiguous = set(_read_lines("drug_ambiguous.txt"))
    overrides = dict(_read_tsv("generic_overrides.tsv"))
    extra = dict(_read_tsv("drug_extra.tsv"))
    common = set(_read_lines("common_drugs.txt"))

    kept: dict[str, tuple[tuple[str, ...], bool]] = {}
    for name, canonical in variants:
        name = " ".join(name.split())
        if name in denylist or name in extra or not _ALLOWED.match(name) or len(name) < 4:
            continue
        if _CODE_LIKE.search(name) and name not in common:
            continue
        generics = overrides.get(canonical) or _generics_of(canonical)
        generics = tuple(normalise_generic(g) for g in generics)
        if not generics or any(g in denylist for g in generics):
            continue
        is_ambiguous = name in ambiguous
        if name not in common and not is_ambiguous:
            zipf = zipf_frequency(name, "en")
            if zipf >= DROP_WORD_ZIPF:
                continue
            is_ambiguous = zipf >= COMMON_WORD_ZIPF
        kept[name] = (generics, is_ambiguous)
    for name, generics in extra.items():
        kept[name] = (generics, name in ambiguous)
    tokenizer = spacy.blank("en").tokenizer
    entries: dict[str, DrugEntry] = {}
    for (name, (generics, is_ambiguous)), doc in zip(kept.items(), tokenizer.pipe(kept), strict=True):
        tokens = tuple(t.lower_ for t in doc)
        entries[name] = DrugEntry(name, generics, tokens, is_ambiguous, name in common)
    # Every generic Vigil reports is itself findable by name.
    unknown = sorted(name for name in common if name not in entries)
    if unknown:
        raise LexiconError(f"common_drugs.txt names drugs the lexicon does not know: {', '.join(unknown)}")
    return DrugLexicon(entries, curation_fingerprint())


def normalise_generic(name: str) -> str:
    """A generic without salt words: "dexmethylphenidate hydrochloride" -> "dexmethylphenidate"."""
    words = name.lower().split()
    # "ferrous sulfate" stays whole: what is left would be an adjective, not a drug.
    while len(words) > 1 and words[-1] in _SALTS and not (len(words) == 2 and words[0] in _KEEP_WHOLE):
        words.pop()
    return " ".join(words)


def _generics_of(canonical: str) -> tuple[str, ...]:
    base = _PAREN.sub("", canonical.lower()).strip()
    parts = [normalise_generic(p.strip()) for p in _COMBO_SPLIT.split(base) if p.strip()]
    if any(_CLASS.search(p) for p in parts):
        return ()
    return tuple(dict.fromkeys(parts))


def _source_variants() -> Iterator[tuple[str, str]]:
    try:
        import drug_named_entity_recognition as source
    except ImportError as exc:  # pragma: no cover - a broken install
        raise LexiconError("the drug-named-entity-recognition package is not installed") from exc
    path = Path(source.__file__).parent / "drug_ner_dictionary.pkl.bz2"
    try:
        with bz2.open(path, "rb") as f:
            data = pickle.load(f)
    except (OSError, pickle.UnpicklingError) as exc:
        raise LexiconError(f"cannot read the drug vocabulary at {path}: {exc}") from exc
    for variant, canonicals in data["drug_variant_to_canonical"].items():
        if canonicals:
            yield variant, canonicals[0]


def _source_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("drug-named-entity-recognition")
    except PackageNotFoundError:
        return "missing"


def _read_lines(name: str) -> Iterable[str]:
    for line in (_DATA / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip().lower()
        if line:
            yield line


def _read_tsv(name: str) -> Iterable[tuple[str, tuple[str, ...]]]:
    for line in _read_lines(name):
        key, _, value = line.partition("\t")
        if not value.strip():
            raise LexiconError(f"{name}: line {line!r} needs a tab between the name and its generic(s)")
        # "-" marks a blocker: a phrase that contains a drug name but is no mention.
        yield key.strip(), tuple(g.strip() for g in value.split(";") if g.strip() and g.strip() != "-")
