"""Fit the null model of melody.score.significance: LAMBDA and K of P(S >= x) = 1 - exp(-K m n e^(-lambda x)).

Scores come from pairs of *unrelated* real melodies (different corpus tunes, different collections), each
query aligned against a whole catalog sample, the way search uses them. Prints the fitted constants.

With --rescore: the lambda of stage 2's combined score (interval + pitch alignment,
melody.score.rescore.LAMBDA_RESCORE): for each of --queries queries, the combined score against a sample of
rescore.NULL_SAMPLE unrelated references is fitted by a Gumbel law with length correction (lambda and K by
maximum likelihood); LAMBDA_RESCORE is the median of the per-query lambdas and K_RESCORE the median
per-query K at that lambda (search shrinks each query's own lambda halfway towards LAMBDA_RESCORE and
fits K with K_RESCORE as a prior). Queries and references come from all three collections, as in catalogs.
The sample is drawn at random (--null random, the default: the shipped constants) or as search draws a
query's null (--null style: the NULL_SAMPLE references nearest to the query in style, `rescore.style_sample`
over all the references packed as one catalog). The style-drawn prior (lambda 0.0907, K 0.0517) has the
heavier tail of a kind's own chance partners; shrinking every query towards it made E-values about three
times larger and separated no better (BENCHMARKS.md, "Eleventh session"), so search keeps the random-drawn
prior and trusts the query's own (style-drawn) null sample more instead (rescore.STYLE_PRIOR_WEIGHT).

    .venv/bin/python scripts/calibrate.py --pairs 20000
    .venv/bin/python scripts/calibrate.py --rescore --queries 200
    .venv/bin/python scripts/calibrate.py --rescore --whole --queries 200   # the passage view (rescore.LAMBDA_WHOLE)
    .venv/bin/python scripts/calibrate.py --rhythm ~/.cache/melody/default-catalog   # melody.align.pitch.RHYTHM_BITS
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from melody import align  # noqa: E402
from melody.io.abc import load_abc  # noqa: E402
from melody.represent import features  # noqa: E402


def corpus(folder: str, limit: int, rng) -> list:
    import music21
    root = os.path.join(os.path.dirname(music21.__file__), "corpus", folder)
    tunes = [m for f in sorted(glob.glob(os.path.join(root, "*.abc"))) for m in load_abc(f) if len(m.notes) >= 8]
    rng.shuffle(tunes)
    return tunes[:limit]


def fit(scores, mn):
    """MLE of (lambda, K) for Gumbel maxima with location log(K m n) / lambda."""
    def nll(theta):
        lam, logk = np.exp(theta[0]), theta[1]
        z = lam * scores - logk - np.log(mn)
        return -np.sum(np.log(lam) - z - np.exp(-z))
    res = minimize(nll, x0=[0.0, np.log(0.1)], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-6})
    return float(np.exp(res.x[0])), float(np.exp(res.x[1]))


def length_exponents(samples):
    """Exponents (a, b) of the null's search space m^a n^b, fitted on per-query samples (scores, query steps m,
    reference steps n): b and a common lambda by maximum likelihood with each query's own K (which absorbs
    m and the query's make-up), then a as the slope of those log K against log m (plus b's share of it: the
    query is one sequence of the pair, as the reference is the other, so a starts from the same place)."""
    def profile(lam, b):
        total, log_ks = 0.0, []
        for s, m, n in samples:
            log_n = b * np.log(n)
            log_k = float(np.log(len(s)) - np.log(np.sum(np.exp(log_n - lam * s))))
            z = lam * s - log_k - log_n
            total += float(np.sum(np.log(lam) - z - np.exp(-z)))
            log_ks.append(log_k)
        return total, np.array(log_ks)
    res = minimize(lambda t: -profile(np.exp(t[0]), t[1])[0], x0=[np.log(0.1), 1.0], method="Nelder-Mead",
                   options={"xatol": 1e-4, "fatol": 1e-4})
    lam, b = float(np.exp(res.x[0])), float(res.x[1])
    log_ks = profile(lam, b)[1]
    log_m = np.log([m for _, m, _ in samples])
    a = float(np.polyfit(log_m, log_ks, 1)[0])
    return a, b


def combined_scores(query, refs, pitch_params=None):
    """Stage 2's combined scores (stage 1's interval score + the pitch alignment's, less the local view's charge
    for pairs that scatter in the bar, `rescore.METRIC_SCATTER`) of melody `query` against each melody of
    `refs` packed as a catalog, and each reference's number of steps. With METRIC_SCATTER 0 it gives the
    shipped LAMBDA_RESCORE / K_RESCORE, which are not refitted for the charge (rescore's comment)."""
    from melody.catalog.packed import pack_melodies
    from melody.score import rescore
    qf = features(query)
    packed = pack_melodies(refs)
    s1 = align.search(qf, (packed.interval, packed.length, packed.weight, packed.metric), packed.step_offsets)
    rows = np.arange(len(refs))
    s2 = rescore.pitch_scores(np.rint(query.notes["pitch"]).astype(np.int64), qf, packed,
                              rescore.pitches(packed), rows, pitch_params)
    scatter = rescore.METRIC_SCATTER * rescore.metric_scatter(query, qf, packed, rows)
    return s1 + s2 - scatter, np.diff(packed.step_offsets).astype("f8")


def null_picker(refs, how: str, rng):
    """A function (query melody -> indices into `refs` of its NULL_SAMPLE null references): drawn as search
    draws them (how="style": `rescore.style_sample` with `refs` packed as one catalog) or at random."""
    from melody.catalog.packed import pack_melodies
    from melody.score import rescore
    if how == "random":
        return lambda qm: rng.choice(len(refs), size=rescore.NULL_SAMPLE, replace=False)
    packed = pack_melodies(refs)
    return lambda qm: rescore.style_sample(features(qm), packed)


def rescore_lambda(queries, refs, n_queries, rng, how: str = "random"):
    """Median per-query Gumbel lambda of interval + pitch scores against unrelated references (search space
    rescore.search_space; the references of each query drawn by `null_picker`), and, as a diagnostic, the
    search space's length exponents fitted on the same scores (length_exponents)."""
    from melody.score import rescore
    pick = null_picker(refs, how, rng)
    samples = []
    for q in rng.permutation(len(queries))[:n_queries]:
        qm = queries[q]
        picks = [refs[k] for k in pick(qm)]
        scores, n_steps = combined_scores(qm, picks)
        samples.append((scores, max(len(features(qm)), 1), np.maximum(n_steps, 1.0)))
    a, b = length_exponents(samples)
    print(f"fitted search space m^a n^b: a={a:.3f} b={b:.3f} (search uses a={rescore.QUERY_LENGTH_EXP}, "
          f"b={rescore.REF_LENGTH_EXP}; BENCHMARKS.md, fifth session)")
    spaces = [rescore.search_space(m, n) for _, m, n in samples]
    lams = [fit(s, space)[0] for (s, _, _), space in zip(samples, spaces)]
    lam = float(np.median(lams))
    # with lambda fixed, each query's maximum-likelihood K; the global K is their median
    log_k = np.median([-np.log(np.mean(space * np.exp(-lam * s))) for (s, _, _), space in zip(samples, spaces)])
    print(f"queries={len(lams)} per-query lambda quartiles {np.percentile(lams, [25, 50, 75]).round(4)}; "
          f"LAMBDA_RESCORE={lam:.4f} K_RESCORE={np.exp(log_k):.5g}")


def excerpt(m, rng, lo: int = 9, hi: int | None = None):
    """A passage of lo..hi notes (hi: rescore.PASSAGE_MAX + 1, a passage's most notes) of melody m, at random."""
    from melody import Melody
    from melody.score import rescore
    hi = rescore.PASSAGE_MAX + 1 if hi is None else hi
    k = min(int(rng.integers(lo, hi + 1)), len(m.notes))
    i = int(rng.integers(0, len(m.notes) - k + 1))
    return Melody(m.notes[i:i + k].copy(), m.title, source=m.source)


def whole_lambda(queries, refs, n_queries, rng, how: str = "random"):
    """LAMBDA_WHOLE and K_WHOLE of the passage view (rescore: a passage of at most PASSAGE_MAX steps
    against the catalog's passages, both aligned whole): passages of 9..PASSAGE_MAX + 1 notes of unrelated
    melodies as queries, each against NULL_SAMPLE passages of the same lengths of other melodies (a
    catalog of excerpts, as in a dispute; with how="style" one excerpt per reference, the null's passages
    drawn from them by `null_picker`); median per-query lambda, median per-query K at it (one test per pair:
    search space 1)."""
    from melody.score import rescore
    p = rescore.whole_params()
    if how == "style":
        passages = [excerpt(m, rng) for m in refs]
        pick = null_picker(passages, how, rng)
    samples = []
    for q in rng.permutation(len(queries))[:n_queries]:
        qm = excerpt(queries[q], rng)
        if not 0 < len(features(qm)) <= rescore.PASSAGE_MAX:
            continue
        if how == "style":
            picks = [passages[k] for k in pick(qm)]
        else:
            picks = [excerpt(refs[k], rng) for k in rng.choice(len(refs), size=rescore.NULL_SAMPLE, replace=False)]
        scores, n_steps = combined_scores(qm, picks, p)
        short = n_steps <= rescore.PASSAGE_MAX
        samples.append((scores[short], np.ones(int(short.sum()))))
    lams = [fit(s, space)[0] for s, space in samples]
    lam = float(np.median(lams))
    log_k = np.median([-np.log(np.mean(space * np.exp(-lam * s))) for s, space in samples])
    print(f"queries={len(lams)} per-query lambda quartiles {np.percentile(lams, [25, 50, 75]).round(4)}; "
          f"LAMBDA_WHOLE={lam:.4f} K_WHOLE={np.exp(log_k):.5g}")


def rhythm_bits(catalog_path: str):
    """RHYTHM_BITS of melody.align.pitch: -log2 P(class) - 1 of each step's length relative to the step before
    (classes of half a log2 unit, -3..+3), over a catalog's melodies, floored at 0 and capped at 4."""
    from melody import Catalog
    from melody.align.pitch import RHYTHM_CLASSES
    p = Catalog.open(catalog_path, read_only=True).packed
    lengths = p.length.astype("f8")
    first = np.zeros(len(lengths), dtype=bool)
    first[p.step_offsets[:-1][np.diff(p.step_offsets) > 0]] = True
    ratio = np.log2(lengths[1:] / lengths[:-1])[~first[1:]]
    cls = np.clip(np.rint(2 * ratio).astype(int), -RHYTHM_CLASSES, RHYTHM_CLASSES) + RHYTHM_CLASSES
    share = np.bincount(cls, minlength=2 * RHYTHM_CLASSES + 1) / len(cls)
    bits = np.clip(-np.log2(np.maximum(share, 1e-12)) - 1.0, 0.0, 4.0)
    print(f"steps={len(cls)} RHYTHM_BITS = {np.round(bits, 2).tolist()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rescore", action="store_true", help="fit stage 2's LAMBDA_RESCORE instead")
    ap.add_argument("--queries", type=int, default=200, help="queries for --rescore")
    ap.add_argument("--whole", action="store_true", help="with --rescore: the passage view's LAMBDA_WHOLE, K_WHOLE")
    ap.add_argument("--null", choices=("random", "style"), default="random",
                    help="with --rescore: each query's null references, its nearest in style (as search) or random")
    ap.add_argument("--rhythm", metavar="CATALOG", help="print melody.align.pitch.RHYTHM_BITS from a catalog instead")
    args = ap.parse_args()
    if args.rhythm:
        rhythm_bits(args.rhythm)
        return
    rng = np.random.default_rng(args.seed)
    queries = corpus("oneills1850", 400, rng) + corpus("ryansMammoth", 400, rng)
    refs = corpus("essenFolksong", 4000, rng)
    if args.rescore:
        # catalogs mix the collections (the default one and bench_accuracy's): so does this sample; the
        # same tune in two collections (identical intervals) is kept once, queries and references disjoint
        pool, seen = [], set()
        for m in queries + refs:
            key = np.diff(np.round(m.notes["pitch"])).astype(int).tobytes()
            if key not in seen:
                seen.add(key)
                pool.append(m)
        order = rng.permutation(len(pool))
        fit_one = whole_lambda if args.whole else rescore_lambda
        fit_one([pool[k] for k in order[:args.queries]], [pool[k] for k in order[args.queries:]], args.queries, rng,
                args.null)
        return
    qf = [features(m) for m in queries]
    rf = [features(m) for m in refs]
    scores, mn = [], []
    while len(scores) < args.pairs:
        a, b = qf[rng.integers(len(qf))], rf[rng.integers(len(rf))]
        s = align.local_align(a, b).score
        scores.append(s)
        mn.append(len(a) * len(b))
    scores, mn = np.array(scores), np.array(mn, dtype="f8")
    lam, k = fit(scores, mn)
    y = k * mn * np.exp(-lam * scores)
    p = -np.expm1(-y)
    print(f"pairs={len(scores)} mean score={scores.mean():.2f} LAMBDA={lam:.4f} K={k:.5f}")
    for alpha in (0.1, 0.01, 0.001):
        print(f"  fraction of null pairs with p <= {alpha}: {np.mean(p <= alpha):.4f}")


if __name__ == "__main__":
    main()
