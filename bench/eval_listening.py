"""Evaluate the listening layer on the labelled sets: segments, author type, crisis, adverse events.

    .venv/bin/python bench/eval_listening.py [--split dev|dev1..dev26|holdout|holdout2..holdout9|unseen|all] [--errors DIMENSION]

`bench/devset/listening_dev*.jsonl` are the tuning sets, by eighteen writers: the rules were tuned on
them and the segment model is trained on them (bench/build_training.py), so their figures are
training figures. `listening_holdout*.jsonl` were written separately and are only measured
("unseen" is all of them). Each was measured clean when it arrived, before any of its errors were
read; the crisis errors of holdouts 1-6 have been read since, so the newest holdout is the clean
estimate. Prints per-label precision / recall / F1,
accuracy per dimension, the crisis goals (critical recall, false criticals on non-crisis posts,
crisis = high + critical F1), and adverse-event P/R/F1: per event (same drug, overlapping event span)
and per report (one per post and suspect drug).
See bench/devset/LABELLING.md for what each label means."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from processors import Enricher, Pseudonymizer, build_nlp

HERE = Path(__file__).resolve().parent
SPLITS = {
    "dev": [f"listening_dev{n}.jsonl" for n in ("", *map(str, range(2, 27)))],
    **{f"dev{n}": [f"listening_dev{'' if n == 1 else n}.jsonl"] for n in range(1, 27)},
    "holdout": ["listening_holdout.jsonl"],
    **{f"holdout{n}": [f"listening_holdout{n}.jsonl"] for n in range(2, 10)},
}
SPLITS["unseen"] = [name for split in ("holdout", *(f"holdout{n}" for n in range(2, 10))) for name in SPLITS[split]]
SPLITS["all"] = SPLITS["dev"] + SPLITS["unseen"]
DIMENSIONS = ("audience", "behaviour", "stage", "author_type", "crisis")


def load(split: str) -> list[dict[str, Any]]:
    rows = []
    for name in SPLITS[split]:
        path = HERE / "devset" / name
        if not path.exists():
            continue
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def predict(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    enricher = Enricher(
        build_nlp(cache_dir=Path.home() / ".cache" / "vigil" / "lexicon"), Pseudonymizer(b"eval-key-0123456789abcdef")
    )
    posts = [
        {"id": r["id"], "text": r["text"], "author": r.get("author"), "engagement": r.get("engagement")} for r in rows
    ]
    return list(enricher.enrich(posts))


def evaluate(rows: list[dict[str, Any]], outs: list[dict[str, Any]], errors: str | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"posts": len(rows)}
    for dim in DIMENSIONS:
        gold = [r["labels"][dim] for r in rows]
        pred = [o["crisis"]["level"] if dim == "crisis" else o["segments"][dim] for o in outs]
        results[f"{dim}_accuracy"] = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(rows)
        for value in sorted(set(gold) | set(pred)):
            tp = sum(g == p == value for g, p in zip(gold, pred, strict=True))
            fp = sum(p == value != g for g, p in zip(gold, pred, strict=True))
            fn = sum(g == value != p for g, p in zip(gold, pred, strict=True))
            results[f"{dim}.{value}"] = prf(tp, fp, fn) + (sum(g == value for g in gold),)
        if errors == dim:
            for r, g, p in zip(rows, gold, pred, strict=True):
                if g != p:
                    print(f"{r['id']} gold={g} pred={p} | {r['text'][:200]}", file=sys.stderr)
    gold_c = [r["labels"]["crisis"] for r in rows]
    pred_c = [o["crisis"]["level"] for o in outs]
    crit = [(g, p) for g, p in zip(gold_c, pred_c, strict=True) if g == "critical"]
    results["critical_recall"] = sum(p == "critical" for _, p in crit) / max(1, len(crit))
    results["false_critical_on_non_crisis"] = sum(
        p == "critical" for g, p in zip(gold_c, pred_c, strict=True) if g in ("none", "watch")
    )
    hi = {"high", "critical"}
    tp = sum(g in hi and p in hi for g, p in zip(gold_c, pred_c, strict=True))
    fp = sum(g not in hi and p in hi for g, p in zip(gold_c, pred_c, strict=True))
    fn = sum(g in hi and p not in hi for g, p in zip(gold_c, pred_c, strict=True))
    results["crisis_high_or_critical_f1"] = prf(tp, fp, fn)[2]
    # Adverse events: a prediction matches a gold event with the same drug and an overlapping span.
    tp = fp = fn = subject_ok = 0
    for r, o in zip(rows, outs, strict=True):
        gold = []
        for ae in r["labels"]["adverse_events"]:
            start = r["text"].find(ae["event"])
            gold.append((ae["drug"], start, start + len(ae["event"]), ae["subject"]))
        used: set[int] = set()
        for ae in o["adverse_events"]:
            match = next(
                (
                    i
                    for i, g in enumerate(gold)
                    if i not in used and g[0] == ae["drug"] and g[1] < ae["end"] and ae["start"] < g[2]
                ),
                None,
            )
            if match is None:
                fp += 1
                if errors == "adverse":
                    print(f"FALSE+ {r['id']} {ae['drug']} / {ae['event']} | {r['text'][:200]}", file=sys.stderr)
            else:
                used.add(match)
                tp += 1
                subject_ok += gold[match][3] == ae["subject"]
        for i, g in enumerate(gold):
            if i not in used:
                fn += 1
                if errors == "adverse":
                    print(f"MISS   {r['id']} {g[0]} / {r['text'][g[1] : g[2]]} | {r['text'][:200]}", file=sys.stderr)
    results["adverse_events"] = prf(tp, fp, fn) + (tp + fn,)
    results["adverse_subject_accuracy"] = subject_ok / max(1, tp)
    # Reports: one per (post, suspect drug), as a pharmacovigilance team raises them. Unlike the
    # span figure, one event labelled "confused, stumbling, vomiting" and found as three is one
    # report, not one hit and two false alarms.
    tp = fp = fn = 0
    for r, o in zip(rows, outs, strict=True):
        gold_drugs = {ae["drug"] for ae in r["labels"]["adverse_events"]}
        found_drugs = {ae["drug"] for ae in o["adverse_events"]}
        tp, fp, fn = (
            tp + len(gold_drugs & found_drugs),
            fp + len(found_drugs - gold_drugs),
            fn + len(gold_drugs - found_drugs),
        )
    results["adverse_reports"] = prf(tp, fp, fn) + (tp + fn,)
    if errors == "crisis_reasons":
        for r, o in zip(rows, outs, strict=True):
            if r["labels"]["crisis"] != o["crisis"]["level"]:
                print(
                    f"{r['id']} gold={r['labels']['crisis']} pred={o['crisis']['level']} {[x['rule'] + '/' + x.get('ignored', '') for x in o['crisis']['reasons']]} | {r['text'][:220]}",
                    file=sys.stderr,
                )
    return results


def show(title: str, results: dict[str, Any]) -> None:
    print(f"\n== {title}: {results['posts']} posts")
    for key, value in results.items():
        if key == "posts":
            continue
        if isinstance(value, tuple):
            p, r, f, n = value
            print(f"  {key:<36} P {p:.2f}  R {r:.2f}  F1 {f:.2f}  (n={n})")
        elif isinstance(value, float):
            print(f"  {key:<36} {value:.3f}")
        else:
            print(f"  {key:<36} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--split", choices=sorted(SPLITS), default=None, help="one split (default: dev, holdout and all)"
    )
    parser.add_argument(
        "--errors", default=None, help="list errors of one dimension (or 'adverse', 'crisis_reasons') on stderr"
    )
    args = parser.parse_args()
    rows = load(args.split or "all")
    outs = predict(rows)
    by_id = dict(zip([r["id"] for r in rows], outs, strict=True))
    for split in [args.split] if args.split else ["dev", "holdout", "holdout2", "holdout3", "unseen"]:
        subset = load(split)
        if not subset:
            continue
        show(split, evaluate(subset, [by_id[r["id"]] for r in subset], args.errors))


if __name__ == "__main__":
    main()
