"""``python -m mygru bench``: mygru side by side with mygrad's gru and torch.nn.GRU.

All implementations run in one process on the same data, interleaved, at one
BLAS / torch thread; each row reports medians and the peer/mygru time ratios
(> 1 means mygru is faster). A peer that is not installed is reported as missing.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np

SIZES = {  # (T, N, C, D), the sizes of docs/benchmarks.md
    "tiny": (20, 1, 8, 16),
    "small": (30, 8, 16, 32),
    "course": (50, 32, 64, 128),
    "long": (200, 16, 32, 64),
    "large": (100, 64, 128, 256),
}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # __main__ sets them to 1


def peers():
    """The implementations to time: name -> module, or the reason it is missing."""
    found = {}
    try:
        from mygrad.nnet.layers import gru as mygrad_gru

        found["mygrad"] = mygrad_gru
    except ImportError as e:  # numba or scipy absent
        found["mygrad"] = f"missing ({e})"
    try:
        import torch

        torch.set_num_threads(1)
        found["torch"] = torch
    except ImportError as e:
        found["torch"] = f"missing ({e})"
    return found


def make_case(size, dtype, seed=0):
    T, N, C, D = SIZES[size]
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, N, C)).astype(dtype)
    params = [(rng.normal(size=sh) / np.sqrt(sh[0])).astype(dtype) for sh in [(C, D), (D, D), (D,)] * 3]
    grad = rng.normal(size=(T + 1, N, D)).astype(dtype)
    return X, params, grad


def runners(name, impl, X, params, grad, bp_lim=None):
    """(forward, forward+backward) closures for one implementation."""
    import mygrad as mg

    if name in ("mygru", "mygrad"):
        import mygru

        f = mygru.gru if name == "mygru" else impl
        tensors = [mg.tensor(p) for p in params]

        def fwd():
            with mg.no_autodiff:
                f(X, *tensors, bp_lim=bp_lim)

        def fwd_bwd():
            f(X, *tensors, bp_lim=bp_lim).backward(grad)

        return fwd, fwd_bwd
    torch = impl
    _T, _N, C = X.shape
    D = params[2].shape[0]
    dtype = torch.float32 if X.dtype == np.float32 else torch.float64
    module = torch.nn.GRU(C, D).to(dtype)
    x = torch.tensor(X)
    g = torch.tensor(grad[1:])

    def fwd():
        with torch.no_grad():
            module(x)

    def fwd_bwd():
        module.zero_grad(set_to_none=True)
        module(x)[0].backward(g)

    return fwd, fwd_bwd


def median_times(cases, repeat):
    """Median seconds of each (forward, forward+backward) pair, interleaved."""
    for fwd, fwd_bwd in cases.values():  # warm up (mygrad's numba compiles here)
        fwd(), fwd_bwd()
    samples = {name: ([], []) for name in cases}
    for _ in range(repeat):
        for name, (fwd, fwd_bwd) in cases.items():
            samples[name][0].append(timed(fwd))
            samples[name][1].append(timed(fwd_bwd))
    return {name: (float(np.median(f)), float(np.median(fb))) for name, (f, fb) in samples.items()}


def timed(fn, min_seconds=0.02):
    """Seconds per call, averaged over enough calls to last ``min_seconds``."""
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / n


def compare(impls, X, params, grad, repeat, bp_lim=None):
    """Median seconds of forward and forward+backward per implementation, interleaved."""
    cases = {name: runners(name, impl, X, params, grad, bp_lim) for name, impl in impls.items()}
    return median_times(cases, repeat)


def sgemm_peak(dtype, n=1024, repeat=5):
    """flop/s of a large numpy matrix product: the single-thread roofline."""
    a = np.random.default_rng(0).random((n, n)).astype(dtype)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = min(timed(lambda: np.matmul(a, a, out=out), 0.1) for _ in range(repeat))
    return 2 * n**3 / best


def gru_flops(T, N, C, D):
    """Forward+backward flops of the matrix products: 6·T·N·3D·(C+D)."""
    return 6 * T * N * 3 * D * (C + D)


def peak_memory(X, params, grad):
    """(peak bytes allocated during forward+backward, bytes backward must keep or return,
    bytes ``mygru.workspace`` keeps after the call).

    The second number is what any implementation holds at the end of backward: the
    states S and the gate activations Z, R, H of every step (the cache), plus s.grad
    and the parameter gradients (the results). The workspace is emptied first, so
    that the work memory a warm workspace would lend the call is allocated, and
    counted, within it; the third number is what stays with the process after it."""
    import mygrad as mg

    import mygru

    tensors = [mg.tensor(p) for p in params]
    mygru.workspace.clear()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    mygru.gru(X, *tensors).backward(grad)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    held = mygru.workspace.held
    T, N, _C = X.shape
    D = params[2].shape[0]
    item = X.dtype.itemsize
    needed = item * ((T + 1) * N * D + 3 * T * N * D + (T + 1) * N * D + sum(p.size for p in params))
    return peak, needed, held


# run first in a child process: numba is then "not installed" for it. mygrad's own
# import pulls in numba whenever numba is installed (the bench extra), about 1 s
# of mygru's cold start that a user of mygru's own dependencies never pays.
HIDE_NUMBA = "import sys; sys.modules['numba'] = None;"


def cold_start(size="course"):
    """Seconds for a fresh interpreter to import and run one forward+backward,
    for mygru, for mygru as if numba were not installed, and for mygrad's gru
    (which JIT-compiles on its first call)."""
    T, N, C, D = SIZES[size]
    body = (
        "{prefix}import numpy as np, mygrad as mg; from {mod} import {fn} as f;"
        "r=np.random.default_rng(0);"
        f"ps=[mg.tensor(r.normal(size=s).astype('float32')) for s in [({C},{D}),({D},{D}),({D},)]*3];"
        f"f(r.normal(size=({T},{N},{C})).astype('float32'),*ps).sum().backward()"
    )
    out = {}
    for name, mod, prefix in (
        ("mygru", "mygru", ""),
        ("mygru without numba", "mygru", HIDE_NUMBA),
        ("mygrad", "mygrad.nnet.layers", ""),
    ):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", body.format(prefix=prefix, mod=mod, fn="gru")], capture_output=True
        )
        out[name] = time.perf_counter() - start if done.returncode == 0 else "failed"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy, mygrad"], capture_output=True)
    out["python + numpy + mygrad import"] = time.perf_counter() - start
    return out


def fmt_ms(s):
    return f"{s * 1e3:9.3f}" if isinstance(s, float) else f"{'—':>9}"


def fmt_ratio(peer, mine):
    return f"{peer / mine:6.2f}x" if isinstance(peer, float) else f"{'—':>7}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mygru bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved samples per median (>= 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start subprocess runs")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")

    found = peers()
    impls = {"mygru": None, **{k: v for k, v in found.items() if not isinstance(v, str)}}
    for name, v in found.items():
        if isinstance(v, str):
            print(f"{name}: {v}")
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    results = {"rows": [], "threads": {v: os.environ.get(v) for v in THREAD_VARS}}

    print(f"medians of {args.repeat} interleaved samples, milliseconds; ratio = peer / mygru")
    head = f"{'size':7} {'dtype':8} {'pass':8} {'mygru':>9} {'mygrad':>9} {'torch':>9} {'vs mygrad':>9} {'vs torch':>9}"
    print(head)
    print("-" * len(head))
    for size in args.sizes:
        for dtype in dtypes:
            X, params, grad = make_case(size, dtype)
            med = compare(impls, X, params, grad, args.repeat)
            for k, label in enumerate(("fwd", "fwd+bwd")):
                t = {name: med[name][k] if name in med else None for name in ("mygru", "mygrad", "torch")}
                print(
                    f"{size:7} {dtype:8} {label:8} {fmt_ms(t['mygru'])} {fmt_ms(t['mygrad'])} {fmt_ms(t['torch'])}"
                    f" {fmt_ratio(t['mygrad'], t['mygru']):>9} {fmt_ratio(t['torch'], t['mygru']):>9}"
                )
                results["rows"].append(dict(size=size, dtype=dtype, pass_=label, seconds=t))
            if size == "large" and dtype == "float32":
                peak = sgemm_peak(np.float32)
                frac = gru_flops(*SIZES[size]) / med["mygru"][1] / peak
                print(f"  roofline: {frac:.0%} of single-thread sgemm ({peak / 1e9:.1f} GFLOP/s)")
                results["roofline"] = dict(fraction=frac, sgemm_flops=peak)

    if "long" in args.sizes:
        X, params, grad = make_case("long", "float32")
        cases = {name: runners(name, impl, X, params, grad, bp_lim=5) for name, impl in impls.items()}
        cases["mygru, full BPTT"] = runners("mygru", None, X, params, grad)  # same run, interleaved
        med = median_times(cases, args.repeat)
        full = med["mygru, full BPTT"][1]
        t = {name: med[name][1] if name in med else None for name in ("mygru", "mygrad")}
        print(
            f"long float32 fwd+bwd, bp_lim=5: mygru {fmt_ms(t['mygru']).strip()} ms"
            f" (full BPTT {fmt_ms(full).strip()} ms), mygrad {fmt_ms(t['mygrad']).strip()} ms,"
            f" vs mygrad {fmt_ratio(t['mygrad'], t['mygru']).strip()}"
        )
        results["bp_lim_5"] = dict(seconds=t, mygru_full_bptt=full)

    if "course" in args.sizes:
        from .nn._bench import module_bench_case

        T, N, C, D = SIZES["course"]
        med = median_times(module_bench_case(T, N, C, D, np.float32), args.repeat)
        mine, peer = med["mygru.nn.GRU"][1], med.get("torch.nn.GRU", (None, None))[1]
        print(
            f"module, course float32, 2 layers, bidirectional, fwd+bwd: mygru.nn.GRU {fmt_ms(mine).strip()} ms,"
            f" torch.nn.GRU {fmt_ms(peer).strip()} ms, vs torch {fmt_ratio(peer, mine).strip()}"
        )
        results["module"] = dict(mygru=mine, torch=peer)

    for size in args.sizes:
        if size in ("course", "large"):
            X, params, grad = make_case(size, "float32")
            peak, needed, held = peak_memory(X, params, grad)
            print(
                f"memory {size} float32: peak {peak / 2**20:.1f} MiB during fwd+bwd,"
                f" {peak / needed:.2f}x the {needed / 2**20:.1f} MiB backward must keep or return;"
                f" {held / 2**20:.1f} MiB kept for the next call (mygru.workspace)"
            )
            results.setdefault("memory", {})[size] = dict(peak=peak, needed=needed, workspace=held)

    if not args.no_cold:
        cold = cold_start()
        print(
            "cold start (fresh process: import + first fwd+bwd at the course size): "
            + ", ".join(f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v}" for k, v in cold.items())
        )
        results["cold_start"] = cold

    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0
