"""Evaluate drug-mention finding and status on the labelled dev set.

    .venv/bin/python bench/eval_drugs.py [--devset bench/devset/drugs.jsonl] [--errors]

A predicted mention matches a gold one when the spans overlap and the generic is the same (a
combination brand counts once per component). Prints recall on exactly spelled mentions, recall
on misspellings, precision, F1, status accuracy on matched mentions, and per-status P/R/F1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from processors import build_nlp, drug_mentions
from processors.lexicon import normalise_generic

HERE = Path(__file__).resolve().parent


@dataclass
class Gold:
    start: int
    end: int
    generic: str
    status: str
    kind: str
    text: str


def load_devset(path: Path) -> list[tuple[dict, list[Gold]]]:
    """Rows with their gold mentions resolved to character offsets."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        golds = []
        for d in row["drugs"]:
            start = -1
            for _ in range(d.get("occurrence", 0) + 1):
                start = row["text"].find(d["mention"], start + 1)
            if start < 0:
                raise SystemExit(f"{row['id']}: mention {d['mention']!r} not found in the text")
            for generic in d["generic"]:
                # Naming convention, not detection: "tenofovir disoproxil fumarate" is "tenofovir disoproxil".
                generic = normalise_generic(generic)
                golds.append(Gold(start, start + len(d["mention"]), generic, d["status"], d["kind"], d["mention"]))
        rows.append((row, golds))
    return rows


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def evaluate(rows: list[tuple[dict, list[Gold]]], show_errors: bool = False) -> dict[str, float]:
    nlp = build_nlp(cache_dir=Path.home() / ".cache" / "vigil" / "lexicon")
    found = Counter()
    total = Counter()
    fp = 0
    tp_all = 0
    status_confusion: Counter[tuple[str, str]] = Counter()
    errors: list[str] = []
    docs = nlp.pipe([row["text"] for row, _ in rows])
    for (row, golds), doc in zip(rows, docs, strict=True):
        preds = drug_mentions(doc)
        used: set[int] = set()
        for g in golds:
            total[g.kind] += 1
            for k, p in enumerate(preds):
                if k in used or p["generic"] != g.generic or p["end"] <= g.start or p["start"] >= g.end:
                    continue
                used.add(k)
                found[g.kind] += 1
                tp_all += 1
                status_confusion[(g.status, p["status"])] += 1
                if p["status"] != g.status:
                    errors.append(f"STATUS {row['id']} {g.text!r} gold={g.status} pred={p['status']} | {row['text']}")
                break
            else:
                errors.append(f"MISS   {row['id']} {g.text!r} ({g.kind}) -> {g.generic} | {row['text']}")
        for k, p in enumerate(preds):
            if k not in used:
                fp += 1
                errors.append(f"FALSE+ {row['id']} {p['text']!r} -> {p['generic']} | {row['text']}")
    gold_total = sum(total.values())
    precision, recall, f1 = _prf(tp_all, fp, gold_total - tp_all)
    results = {
        "posts": len(rows),
        "gold_mentions": gold_total,
        "exact_recall": found["exact"] / total["exact"] if total["exact"] else 1.0,
        "misspelling_recall": found["misspelling"] / total["misspelling"] if total["misspelling"] else 1.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positives": fp,
        "status_accuracy": sum(v for (g, p), v in status_confusion.items() if g == p)
        / max(1, sum(status_confusion.values())),
    }
    for status in ("current", "past", "negated", "hypothetical"):
        s_tp = status_confusion[(status, status)]
        s_fp = sum(v for (g, p), v in status_confusion.items() if p == status and g != status)
        s_fn = sum(v for (g, p), v in status_confusion.items() if g == status and p != status)
        results[f"status_{status}_f1"] = _prf(s_tp, s_fp, s_fn)[2]
    if show_errors:
        print("\n".join(sorted(errors)), file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devset", type=Path, default=HERE / "devset" / "drugs.jsonl")
    parser.add_argument(
        "--errors", action="store_true", help="list misses, false positives and status errors on stderr"
    )
    args = parser.parse_args()
    results = evaluate(load_devset(args.devset), args.errors)
    goals = {"exact_recall": 0.95, "misspelling_recall": 0.80, "precision": 0.95}
    print(f"{'metric':<28}{'value':>10}{'goal':>10}")
    for name, value in results.items():
        goal = goals.get(name)
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name:<28}{shown:>10}{(f'>= {goal:.2f}' if goal else ''):>10}")


if __name__ == "__main__":
    main()
