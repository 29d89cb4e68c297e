"""Offline enrichment throughput on one core, beside the bare spaCy tokenizer in the same run.

    .venv/bin/python bench/bench_enrich.py [--posts 20000] [--words 40] [--rounds 3]

Posts are built from the dev set and the demo's sample stream: texts are joined until a post has
about ``--words`` words, then wrapped as full post JSON (author, engagement, ...). Both rows see the
same posts in the same process, each measured ``--rounds`` times (best kept), so machine noise
largely cancels in the ratio. The enrichment row is what ``vigil enrich`` does per line: decode and
validate JSON, run the pipeline, pseudonymise, build the output and serialise it. The drugs-only row
is the same with the listening components (crisis, segments, adverse events) switched off.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

import orjson
import spacy

from processors import Enricher, Pseudonymizer, build_nlp

ROOT = Path(__file__).resolve().parent.parent


def corpus(n: int, words: int, seed: int = 7) -> list[bytes]:
    """``n`` post JSON lines of about ``words`` words each."""
    texts = [
        json.loads(line)["text"]
        for line in (ROOT / "bench" / "devset" / "drugs.jsonl").read_text().splitlines()
        if line.strip()
    ]
    texts += [
        json.loads(line)["text"]
        for line in (ROOT / "streams" / "data" / "sample_posts.jsonl").read_text().splitlines()
        if line.strip()
    ]
    rng = random.Random(seed)
    posts = []
    for i in range(n):
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < words:
            parts.append(rng.choice(texts))
        post = {
            "id": f"bench-{i}",
            "text": " ".join(" ".join(parts).split(" ")[:words]),
            "created_at": "2026-11-20T13:00:00Z",
            "platform": rng.choice(["reddit", "x", "facebook", "forum"]),
            "community": "r/diabetes",
            "thread_id": f"t-{i // 8}",
            "author": {
                "id": f"u-{rng.randrange(5000)}",
                "handle": "@someone",
                "followers": rng.randrange(20000),
                "verified": False,
            },
            "engagement": {"views": 120, "likes": 8, "replies": 2, "shares": 0},
        }
        posts.append(orjson.dumps(post))
    return posts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--words", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2000, help="lines per enrich_raw call (as vigil enrich)")
    args = parser.parse_args()

    lines = corpus(args.posts, args.words)
    texts = [orjson.loads(line)["text"] for line in lines]
    mean_words = sum(len(t.split()) for t in texts) / len(texts)
    started = time.perf_counter()
    nlp = build_nlp(cache_dir=Path.home() / ".cache" / "vigil" / "lexicon")
    load_s = time.perf_counter() - started
    enricher = Enricher(nlp, Pseudonymizer(b"bench-key-0123456789abcdef"))
    bare = spacy.blank("en")
    bare.tokenizer.max_cache_size = nlp.tokenizer.max_cache_size

    def run_tokenizer() -> float:
        t0 = time.perf_counter()
        for _ in bare.tokenizer.pipe(texts, batch_size=1000):
            pass
        return time.perf_counter() - t0

    def run_enrich() -> float:
        t0 = time.perf_counter()
        rejected = 0
        for i in range(0, len(lines), args.batch):
            for result in enricher.enrich_raw(lines[i : i + args.batch]):
                if isinstance(result, dict):
                    orjson.dumps(result)
                else:
                    rejected += 1
        elapsed = time.perf_counter() - t0
        if rejected:
            raise SystemExit(f"{rejected} benchmark posts were rejected: the pipeline is broken")
        return elapsed

    listening = ("vigil_cues", "vigil_crisis", "vigil_segments", "vigil_adverse_events")
    tok_best = enrich_best = drugs_best = float("inf")
    for _ in range(args.rounds):
        tok_best = min(tok_best, run_tokenizer())
        enrich_best = min(enrich_best, run_enrich())
        with nlp.select_pipes(disable=list(listening)):
            drugs_best = min(drugs_best, run_enrich())
    tok_rate = len(texts) / tok_best
    enrich_rate = len(lines) / enrich_best
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, spaCy {spacy.__version__}"
    )
    print(
        f"posts: {len(lines)}, mean words/post: {mean_words:.1f}, pipeline load: {load_s:.1f} s, best of {args.rounds}"
    )
    print(f"{'row':<40}{'posts/s':>12}")
    print(f"{'bare spaCy tokenizer (blank en)':<40}{tok_rate:>12,.0f}")
    drugs_rate = len(lines) / drugs_best
    print(f"{'drug mentions only (listening off)':<40}{drugs_rate:>12,.0f}")
    print(f"{'vigil enrich (decode+pipeline+encode)':<40}{enrich_rate:>12,.0f}")
    print(f"{'ratio drugs-only / tokenizer':<40}{drugs_rate / tok_rate:>12.2f}")
    print(f"{'ratio enrich / tokenizer':<40}{enrich_rate / tok_rate:>12.2f}")


if __name__ == "__main__":
    main()
