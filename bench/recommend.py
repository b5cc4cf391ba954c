"""Recommend benchmarks: FAISS Flat/IVF/HNSW at scale, the zh/en query set, MovieLens-100k."""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

RESULTS = Path(__file__).resolve().parent / "results" / "recommend.json"
ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def synthetic(
    n: int, nq: int, dim: int, clusters: int, args_noise: float = 1.0, seed: int = 0
) -> tuple[Any, Any]:
    """Unit vectors around ``clusters`` random centres; queries come from the same mixture."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    data = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        lab = rng.integers(0, clusters, stop - start)
        data[start:stop] = centres[lab] + args_noise * rng.standard_normal(
            (stop - start, dim), np.float32
        )
    queries = centres[rng.integers(0, clusters, nq)] + args_noise * rng.standard_normal(
        (nq, dim), np.float32
    )
    for arr in (data, queries):
        arr /= np.linalg.norm(arr, axis=1, keepdims=True)
    return data, queries


def latency(index: Any, queries: npt.NDArray[np.float32], k: int) -> tuple[Any, dict[str, float]]:
    ids = np.empty((len(queries), k), np.int64)
    times = []
    for i in range(len(queries)):
        t = time.perf_counter()
        _, found = index.search(queries[i : i + 1], k)
        times.append((time.perf_counter() - t) * 1000)
        ids[i] = found[0]
    return ids, {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
    }


def recall(found: Any, truth: Any) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def scale(args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    faiss.omp_set_num_threads(args.threads)
    t = time.perf_counter()
    data, queries = synthetic(args.n, args.queries, args.dim, args.clusters, args.noise)
    out: dict[str, Any] = {k: v for k, v in vars(args).items() if k != "only"}
    out["data_s"] = time.perf_counter() - t
    k = 10
    runs: dict[str, Any] = {}

    def build(name: str, make: Any) -> Any:
        gc.collect()
        faiss.omp_set_num_threads(args.build_threads)
        before, t0 = rss_mb(), time.perf_counter()
        index = make()
        faiss.omp_set_num_threads(args.threads)
        runs[name] = {"build_s": time.perf_counter() - t0, "memory_mb": rss_mb() - before}
        print(
            f"{name}: built in {runs[name]['build_s']:.1f}s, +{runs[name]['memory_mb']:.0f} MB",
            flush=True,
        )
        return index

    flat = build("flat", lambda: _add(faiss.IndexFlatIP(args.dim), data))
    truth, lat = latency(flat, queries, k)
    runs["flat"].update(lat, recall_at_10=1.0)
    del flat

    nlist = args.nlist or int(min(2048, max(16, 4 * np.sqrt(args.n))))

    def make_ivf() -> Any:
        ivf = faiss.IndexIVFFlat(
            faiss.IndexFlatIP(args.dim), args.dim, nlist, faiss.METRIC_INNER_PRODUCT
        )
        ivf.cp.max_points_per_centroid = 64
        ivf.train(data)
        return _add(ivf, data)

    ivf = build("ivf", make_ivf)
    runs["ivf"].update(nlist=nlist, sweep=[])
    for nprobe in (4, 8, 16, 32, 64):
        ivf.nprobe = nprobe
        found, lat = latency(ivf, queries, k)
        runs["ivf"]["sweep"].append({"nprobe": nprobe, "recall_at_10": recall(found, truth), **lat})
    del ivf
    if not args.skip_hnsw:

        def make_hnsw() -> Any:
            hnsw = faiss.IndexHNSWFlat(args.dim, args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = args.ef_construction
            return _add(hnsw, data)

        hnsw = build("hnsw", make_hnsw)
        runs["hnsw"].update(M=args.hnsw_m, efConstruction=args.ef_construction, sweep=[])
        for ef in (16, 32, 64, 128):
            hnsw.hnsw.efSearch = ef
            found, lat = latency(hnsw, queries, k)
            runs["hnsw"]["sweep"].append(
                {"efSearch": ef, "recall_at_10": recall(found, truth), **lat}
            )
        del hnsw
    out["runs"] = runs
    flat_p50 = runs["flat"]["p50_ms"]
    ok = [
        (kind, s)
        for kind in ("ivf", "hnsw")
        if kind in runs
        for s in runs[kind]["sweep"]
        if s["recall_at_10"] >= 0.95
    ]
    if ok:
        kind, best = min(ok, key=lambda ks: ks[1]["p99_ms"])
        out["chosen"] = {"kind": kind, **best, "speedup_p50_vs_flat": flat_p50 / best["p50_ms"]}
    return out


def _add(index: Any, data: Any) -> Any:
    for start in range(0, len(data), 100_000):
        index.add(data[start : start + 100_000])
    return index


def retrieval() -> dict[str, Any]:
    from assistant.catalog import Catalog
    from assistant.embedders import create_embedder
    from recommend.recommender import ProductRecommender
    from recommend.retrieval_eval import embedder_only, full_stack, load_queries
    from recommend.settings import RecommendSettings

    qs = load_queries(ROOT / "data" / "eval" / "queries_zh.json")
    catalog = Catalog.model_validate_json((ROOT / qs.catalog).read_text())
    settings = RecommendSettings()
    models = {n: create_embedder(n) for n in ("use", "e5", "sentence-transformers")}
    out: dict[str, Any] = {"queries": len(qs.queries)}
    for name, emb in models.items():
        out[f"{name} (vector search only)"] = embedder_only(emb, catalog, qs.queries).model_dump()
    for first, second in (
        ("use", None),
        ("e5", None),
        ("sentence-transformers", None),
        ("use", "e5"),
    ):
        rec = ProductRecommender(models[first], settings, models[second] if second else None)
        rec.sync(catalog)
        t = time.perf_counter()
        score = full_stack(rec, qs.queries).model_dump()
        score["ms_per_query"] = (time.perf_counter() - t) * 1000 / len(qs.queries)
        out[f"{first}" + (f" + {second} re-rank" if second else "") + " (full stack)"] = score
    return out


def movielens() -> dict[str, Any]:
    from recommend.install import install, installed
    from recommend.offline import run_all

    cache = (
        Path(os.environ.get("LCA_MODEL_DIR", "~/.cache/live-commerce")).expanduser() / "recommend"
    )
    if not installed(cache):
        install(cache)
    metrics = {k: v.model_dump() for k, v in run_all(cache).items()}
    pop = metrics["popularity"]
    for m in metrics.values():
        m["hit_ratio_vs_popularity"] = m["hit_rate"] / pop["hit_rate"]
    return metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=100_000, help="vectors (1000000 for the full run)")
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--clusters", type=int, default=1000)
    p.add_argument("--nlist", type=int, default=0, help="IVF lists; 0 means 4*sqrt(n)")
    p.add_argument("--hnsw-m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=40)
    p.add_argument("--threads", type=int, default=1, help="FAISS threads while searching")
    p.add_argument("--build-threads", type=int, default=2)
    p.add_argument("--noise", type=float, default=1.0, help="per-dim noise around cluster centres")
    p.add_argument("--skip-hnsw", action="store_true")
    p.add_argument("--only", choices=["scale", "retrieval", "movielens"], default=None)
    args = p.parse_args()
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.only in (None, "movielens"):
        results["movielens"] = movielens()
        print(json.dumps(results["movielens"], indent=1))
    if args.only in (None, "retrieval"):
        results["retrieval"] = retrieval()
        for name, s in results["retrieval"].items():
            if isinstance(s, dict):
                print(f"{name:45s} MRR {s['mrr']:.3f}  hit@3 {s['hit_at_3']:.3f}")
    if args.only in (None, "scale"):
        res = scale(args)
        results[f"scale_{args.n}_noise{args.noise:g}"] = res
        print(json.dumps(res, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
