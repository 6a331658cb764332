"""``python -m mygru bench``: mygru side by side with mygrad's gru and torch.nn.GRU
(and mygru.lstm with torch.nn.LSTM; at the course size, cells on mygru.recurrence with
the built-in gru and with torch loops, see ``_bench_cells``).

All implementations run in one process on the same data, interleaved, at one
BLAS / torch thread; each row reports medians and the peer/mygru time ratios
(> 1 means mygru is faster). A peer that is not installed is reported as missing.
"""

import json
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from ._cli import Parser, output_file, positive

SIZES = {  # (T, N, C, D), the sizes of docs/benchmarks.md
    "tiny": (20, 1, 8, 16),
    "small": (30, 8, 16, 32),
    "course": (50, 32, 64, 128),
    "long": (200, 16, 32, 64),
    "large": (100, 64, 128, 256),
}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # __main__ sets them to 1


def peers(one_thread=True, names=("mygrad", "torch")):
    """The implementations among ``names`` to time: name -> module, or the reason it is
    missing; torch set to one thread unless ``one_thread`` is False."""
    found = {}
    if "mygrad" in names:
        try:
            from mygrad.nnet.layers import gru as mygrad_gru

            found["mygrad"] = mygrad_gru
        except ImportError as e:  # numba or scipy absent
            found["mygrad"] = f"missing ({e})"
    if "torch" in names:
        try:
            import torch

            if one_thread:
                torch.set_num_threads(1)
            found["torch"] = torch
        except ImportError as e:
            found["torch"] = f"missing ({e})"
    return found


def make_case(size, dtype, seed=0, gates=3):
    """X, the (U, W, b) triples of ``gates`` gates (3: ``mygru.gru``'s nine parameters) and dL/ds."""
    T, N, C, D = SIZES[size]
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, N, C)).astype(dtype)
    params = [(rng.normal(size=sh) / np.sqrt(sh[0])).astype(dtype) for sh in [(C, D), (D, D), (D,)] * gates]
    grad = rng.normal(size=(T + 1, N, D)).astype(dtype)
    return X, params, grad


def runners(name, impl, X, params, grad, bp_lim=None):
    """(forward, forward+backward) closures for one implementation."""
    import mygrad as mg

    if name in ("mygru", "mygrad"):
        import mygru

        f = mygru.gru if name == "mygru" else impl
        tensors = [mg.tensor(p) for p in params]
        # mygrad's gru writes into the gradient it is given (mygru never does): it gets a
        # fresh copy each time, or the shared dL/ds would grow call after call to inf
        fresh = (lambda g: g) if name == "mygru" else np.copy

        def fwd():
            with mg.no_autodiff:
                f(X, *tensors, bp_lim=bp_lim)

        def fwd_bwd():
            f(X, *tensors, bp_lim=bp_lim).backward(fresh(grad))

        return fwd, fwd_bwd
    return _torch_runners(impl, impl.nn.GRU, X, params, grad)


def _torch_runners(torch, layer, X, params, grad):
    """(forward, forward+backward) closures for one layer of ``layer`` (torch.nn.GRU or
    torch.nn.LSTM) on the same data: its own weights, the loss on its outputs as ``s[1:]``."""
    C, D = X.shape[2], params[2].shape[0]
    module = layer(C, D).to(torch.float32 if X.dtype == np.float32 else torch.float64)
    x, g = torch.tensor(X), torch.tensor(grad[1:])

    def fwd():
        with torch.no_grad():
            module(x)

    def fwd_bwd():
        module.zero_grad(set_to_none=True)
        module(x)[0].backward(g)

    return fwd, fwd_bwd


def make_lstm_case(size, dtype, seed=0):
    """X, the twelve parameters of ``mygru.lstm`` (gates i, f, g, o) and dL/ds."""
    return make_case(size, dtype, seed, gates=4)


def lstm_runners(name, impl, X, params, grad):
    """(forward, forward+backward) closures: mygru.lstm, or one layer of torch.nn.LSTM
    on the same data (the loss on the outputs, as ``s[1:]``; torch's own weights)."""
    if name == "mygru":
        import mygrad as mg

        import mygru

        tensors = [mg.tensor(p) for p in params]

        def fwd():
            with mg.no_autodiff:
                mygru.lstm(X, *tensors)

        def fwd_bwd():
            mygru.lstm(X, *tensors)[0].backward(grad)

        return fwd, fwd_bwd
    return _torch_runners(impl, impl.nn.LSTM, X, params, grad)


def lstm_table(found, sizes, dtypes, repeat):
    """The LSTM rows (mygru.lstm against torch.nn.LSTM, one layer), printed; returns
    them as dicts like the GRU's rows."""
    impls = {"mygru": None, **({} if isinstance(found.get("torch"), str) else {"torch": found["torch"]})}
    print("LSTM, one layer: mygru.lstm and torch.nn.LSTM (mygrad has none)")
    head = f"{'cell':5} {'size':7} {'dtype':8} {'pass':8} {'mygru':>9} {'torch':>9} {'vs torch':>9}"
    print(head)
    print("-" * len(head))
    rows = []
    for size in sizes:
        for dtype in dtypes:
            X, params, grad = make_lstm_case(size, dtype)
            cases = {name: lstm_runners(name, impl, X, params, grad) for name, impl in impls.items()}
            med = median_times(cases, repeat)
            for k, label in enumerate(("fwd", "fwd+bwd")):
                t = {name: med[name][k] if name in med else None for name in ("mygru", "torch")}
                print(
                    f"{'lstm':5} {size:7} {dtype:8} {label:8} {fmt_ms(t['mygru'])} {fmt_ms(t['torch'])}"
                    f" {fmt_ratio(t['torch'], t['mygru']):>9}"
                )
                rows.append(dict(size=size, dtype=dtype, pass_=label, seconds=t))
    return rows


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


def lengths_cases(size="course", dtype=np.float32, seed=0, kind="GRU"):
    """The lengths row: mygru.nn.<kind> (GRU or LSTM; 2 layers, bidirectional, as the
    module row) on a batch whose lengths are drawn uniformly from T/4..T, against
    torch.nn.<kind> on the same batch packed (``pack_padded_sequence``,
    ``enforce_sorted=False``) and against mygru.nn.<kind> on the same batch without
    lengths (every sequence runs all T steps).

    Returns ``(cases, lengths)``: name -> (forward, forward+backward), and the lengths."""
    from .nn._bench import module_bench_case

    T, N, C, D = SIZES[size]
    lengths = np.random.default_rng(seed).integers(max(1, T // 4), T + 1, size=N)
    packed = module_bench_case(T, N, C, D, dtype, lengths=lengths, seed=seed, kind=kind)
    cases = {f"mygru.nn.{kind}": packed[f"mygru.nn.{kind}"]}
    if f"torch.nn.{kind}" in packed:
        cases[f"torch.nn.{kind} packed"] = packed[f"torch.nn.{kind}"]
    plain = module_bench_case(T, N, C, D, dtype, seed=seed, kind=kind)
    cases[f"mygru.nn.{kind} without lengths"] = plain[f"mygru.nn.{kind}"]
    return cases, lengths


def lengths_row(size, dtype, repeat, kind="GRU"):
    """Median forward+backward seconds of :func:`lengths_cases`, interleaved, and the
    fraction of the T·N steps that the lengths cover."""
    cases, lengths = lengths_cases(size, dtype, kind=kind)
    med = median_times(cases, repeat)
    T, N, _C, _D = SIZES[size]
    return dict(seconds={name: fb for name, (_f, fb) in med.items()}, fraction=float(lengths.sum() / (T * N)))


def _child_env(pin_threads=True):
    """The environment of a child process: this mygru importable first, the BLAS
    thread variables set to 1 (``pin_threads``) or removed (each library's default)."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if pin_threads:
        env.update({v: "1" for v in THREAD_VARS})
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


# The end-to-end scripts: import, build a 1-layer model, train (forward, a mean squared
# error against a fixed target, backward, a plain SGD update), all in float32; the child
# prints its own split of the time. mygru.gru and mygrad's gru take the same script.
_TRAIN_MYGRAD = """{prefix}import time
start = time.perf_counter()
import json
import numpy as np
import mygrad as mg
from {module} import gru
imported = time.perf_counter()
T, N, C, D = {shape}
rng = np.random.default_rng(0)
X = rng.normal(size=(T, N, C)).astype(np.float32)
Y = rng.normal(size=(T, N, D)).astype(np.float32)
params = [mg.tensor((rng.normal(size=s) / np.sqrt(s[0])).astype(np.float32)) for s in [(C, D), (D, D), (D,)] * 3]
ends = []
for _ in range({steps}):
    loss = mg.mean((gru(X, *params)[1:] - Y) ** 2)
    loss.backward()
    for p in params:
        p.data -= 0.1 * p.grad
    ends.append(time.perf_counter())
print(json.dumps(dict(imports=imported - start, first_step=ends[0] - imported, other_steps=ends[-1] - ends[0])))
"""
_TRAIN_TORCH = """import time
start = time.perf_counter()
import json
import numpy as np
import torch
imported = time.perf_counter()
torch.set_num_threads(1)
T, N, C, D = {shape}
rng = np.random.default_rng(0)
X = torch.from_numpy(rng.normal(size=(T, N, C)).astype(np.float32))
Y = torch.from_numpy(rng.normal(size=(T, N, D)).astype(np.float32))
model = torch.nn.GRU(C, D)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
ends = []
for _ in range({steps}):
    opt.zero_grad()
    loss = ((model(X)[0] - Y) ** 2).mean()
    loss.backward()
    opt.step()
    ends.append(time.perf_counter())
print(json.dumps(dict(imports=imported - start, first_step=ends[0] - imported, other_steps=ends[-1] - ends[0])))
"""
END_TO_END = {  # name -> (script, module, prefix)
    "mygru": (_TRAIN_MYGRAD, "mygru", ""),
    "mygru without numba": (_TRAIN_MYGRAD, "mygru", HIDE_NUMBA),
    "mygrad": (_TRAIN_MYGRAD, "mygrad.nnet.layers", ""),
    "torch": (_TRAIN_TORCH, "", ""),
}


def end_to_end(size, steps=300, names=tuple(END_TO_END), repeat=3):
    """A whole short training run, each in a fresh process, one BLAS / torch thread.

    For each implementation in ``names``: the median wall time of ``repeat`` fresh
    processes (mygrad's gru runs once: each of its runs is mostly the same 12-40 s
    of numba compiling), and the child's own split of that run: ``imports``,
    ``first_step`` (building the model and the first step, mygrad's compile
    included) and ``other_steps``. A child that fails is reported as "failed"."""
    shape = SIZES[size]
    runs = {name: [] for name in names}
    for r in range(repeat):
        for name in names:
            if name == "mygrad" and r:
                continue
            script, module, prefix = END_TO_END[name]
            code = script.format(prefix=prefix, module=module, shape=shape, steps=steps)
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=_child_env()
            )
            wall = time.perf_counter() - start
            if done.returncode == 0:
                runs[name].append(dict(json.loads(done.stdout.splitlines()[-1]), wall=wall))
    out = {}
    for name, samples in runs.items():
        if not samples:
            out[name] = "failed"
            continue
        walls = [s["wall"] for s in samples]
        middle = samples[int(np.argsort(walls)[len(walls) // 2])]  # the median run, whole
        out[name] = dict(middle, runs=len(samples))
    return out


def default_threads(size="course", dtypes=("float32", "float64"), repeat=7, names=("mygrad", "torch")):
    """The forward+backward medians of ``size`` in a child process left at each library's
    default thread count (no thread variable set, torch's own default), for mygru and
    the peers in ``names``. Returns dtype -> name -> seconds, plus "torch_threads"
    (torch's default, when torch ran) and "cpus" (``os.cpu_count()``)."""
    code = f"from mygru.bench import _default_threads_child; _default_threads_child({size!r}, {list(dtypes)!r}, {repeat}, {list(names)!r})"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_child_env(pin_threads=False)
    )
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(done.stdout.splitlines()[-1])


def _default_threads_child(size, dtypes, repeat, names):
    found = peers(one_thread=False, names=names)
    impls = {"mygru": None, **{k: v for k, v in found.items() if not isinstance(v, str)}}
    out = {"cpus": os.cpu_count()}
    if "torch" in impls:
        out["torch_threads"] = impls["torch"].get_num_threads()
    for dtype in dtypes:
        med = compare(impls, *make_case(size, dtype), repeat)
        out[dtype] = {name: fb for name, (_f, fb) in med.items()}
    print(json.dumps(out))


def fmt_ms(s):
    return f"{s * 1e3:9.3f}" if isinstance(s, float) else f"{'—':>9}"


def fmt_ratio(peer, mine):
    return f"{peer / mine:6.2f}x" if isinstance(peer, float) else f"{'—':>7}"


def report_lengths(size, dtypes, repeat, results):
    """Print and record the lengths rows (:func:`lengths_row`) for each dtype: the GRU
    (``results["lengths"]``) and the LSTM (``results["lengths_lstm"]``)."""
    for kind, key in (("GRU", "lengths"), ("LSTM", "lengths_lstm")):
        for dtype in dtypes:
            row = lengths_row(size, dtype, repeat, kind)
            t = row["seconds"]
            names = (f"mygru.nn.{kind}", f"torch.nn.{kind} packed", f"mygru.nn.{kind} without lengths")
            mine, peer, plain = (t.get(k) for k in names)
            print(
                f"lengths in T/4..T (sum {row['fraction']:.2f}·T·N), module {size} {dtype}, 2 layers,"
                f" bidirectional, fwd+bwd: {names[0]} {fmt_ms(mine).strip()} ms, {names[1]}"
                f" {fmt_ms(peer).strip()} ms, {names[2]} {fmt_ms(plain).strip()} ms;"
                f" vs torch {fmt_ratio(peer, mine).strip()}, vs without lengths {fmt_ratio(plain, mine).strip()}"
            )
            results.setdefault(key, {})[dtype] = dict(row, size=size)


def report_end_to_end(sizes, results, steps=300):
    """Print and record the end-to-end rows (:func:`end_to_end`) for each size."""
    for size in sizes:
        runs = end_to_end(size, steps)
        mine = runs["mygru"]["wall"] if isinstance(runs["mygru"], dict) else None
        parts = []
        for name, run in runs.items():
            if not isinstance(run, dict):
                parts.append(f"{name} {run}")
                continue
            ratio = "" if name.startswith("mygru") else f" ({fmt_ratio(run['wall'], mine).strip()})"
            parts.append(
                f"{name} {run['wall']:.2f} s{ratio} [imports {run['imports']:.2f}, first step"
                f" {run['first_step']:.2f}, other steps {run['other_steps']:.2f}]"
            )
        print(f"end to end, {size} float32, fresh process, {steps} SGD steps, wall time: " + "; ".join(parts))
        results.setdefault("end_to_end", {})[size] = dict(runs, steps=steps)


def report_default_threads(size, dtypes, repeat, one_thread, results):
    """Print and record :func:`default_threads` beside the one-thread medians ``one_thread``
    (dtype -> name -> forward+backward seconds, from the main table)."""
    found = default_threads(size, dtypes, repeat)
    if isinstance(found, str):
        print(f"default threads, {size}: {found}")
        results["default_threads"] = found
        return
    print(
        f"default threads ({found['cpus']} CPUs; torch {found.get('torch_threads', '—')} threads,"
        " BLAS its own default), fwd+bwd, ms (1 thread in brackets):"
    )
    for dtype in dtypes:
        t, one = found[dtype], one_thread.get(dtype, {})
        mine = t["mygru"]
        cells = [
            f"{n} {fmt_ms(t.get(n)).strip()} ({fmt_ms(one.get(n)).strip()})"
            for n in ("mygru", "mygrad", "torch")
        ]
        print(
            f"  {size} {dtype}: "
            + ", ".join(cells)
            + f"; vs mygrad {fmt_ratio(t.get('mygrad'), mine).strip()}, vs torch {fmt_ratio(t.get('torch'), mine).strip()}"
        )
    results["default_threads"] = dict(found, size=size, one_thread=one_thread)


def main(argv=None):
    parser = Parser(
        prog="python -m mygru bench",
        description="Time mygru side by side with mygrad's gru and torch.nn.GRU (and mygru.lstm "
        "with torch.nn.LSTM; at the course size, the GRU written as a user cell against mygru.gru, "
        "and mygru.cells' MGU and LayerNormLSTM against the same cells looped in torch), in one "
        "process, interleaved, at one BLAS and torch thread. "
        "Each row reports medians and the peer/mygru time ratios (> 1: mygru is faster; "
        "the user cell's rows: its time over mygru.gru's). "
        "A peer that is not installed is reported as missing.",
    )
    sizes = ", ".join(f"{name} {shape}" for name, shape in SIZES.items())
    parser.add_argument(
        "--sizes",
        nargs="+",
        choices=list(SIZES),
        default=list(SIZES),
        metavar="SIZE",
        help=f"the sizes to time, (T, N, C, D) each: {sizes} (default: all)",
    )
    parser.add_argument(
        "--dtype",
        choices=["float32", "float64", "both"],
        default="both",
        help="the dtype to time in (default both)",
    )
    parser.add_argument(
        "--repeat", type=positive(int), default=7, help="interleaved samples per median, >= 1 (default 7)"
    )
    parser.add_argument(
        "--json", metavar="PATH", type=output_file(), help="also write the results as JSON to PATH"
    )
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start subprocess runs")
    parser.add_argument(
        "--no-end-to-end", action="store_true", help="skip the 300-step training runs in fresh processes"
    )
    parser.add_argument(
        "--no-threads", action="store_true", help="skip the course size at the default thread count"
    )
    args = parser.parse_args(argv)

    found = peers()
    impls = {"mygru": None, **{k: v for k, v in found.items() if not isinstance(v, str)}}
    for name, v in found.items():
        if isinstance(v, str):
            print(f"{name}: {v}")
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    results = {"rows": [], "threads": {v: os.environ.get(v) for v in THREAD_VARS}}

    one_thread = {}  # the course size's forward+backward, for the default-threads row
    print(f"medians of {args.repeat} interleaved samples, milliseconds; ratio = peer / mygru")
    head = f"{'size':7} {'dtype':8} {'pass':8} {'mygru':>9} {'mygrad':>9} {'torch':>9} {'vs mygrad':>9} {'vs torch':>9}"
    print(head)
    print("-" * len(head))
    for size in args.sizes:
        for dtype in dtypes:
            X, params, grad = make_case(size, dtype)
            med = compare(impls, X, params, grad, args.repeat)
            if size == "course":
                one_thread[dtype] = {name: fb for name, (_f, fb) in med.items()}
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

    results["lstm_rows"] = lstm_table(found, args.sizes, dtypes, args.repeat)
    if "course" in args.sizes:
        from ._bench_cells import cell_table

        results["cell_rows"] = cell_table(found, "course", dtypes, args.repeat)

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

        med = median_times(module_bench_case(T, N, C, D, np.float32, kind="LSTM"), args.repeat)
        mine, peer = med["mygru.nn.LSTM"][1], med.get("torch.nn.LSTM", (None, None))[1]
        print(
            f"module, course float32, 2 layers, bidirectional, fwd+bwd: mygru.nn.LSTM {fmt_ms(mine).strip()} ms,"
            f" torch.nn.LSTM {fmt_ms(peer).strip()} ms, vs torch {fmt_ratio(peer, mine).strip()}"
        )
        results["module_lstm"] = dict(mygru=mine, torch=peer)

        report_lengths("course", dtypes, args.repeat, results)
        if not args.no_threads:
            report_default_threads("course", dtypes, args.repeat, one_thread, results)

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

    e2e_sizes = [size for size in ("small", "course") if size in args.sizes]
    if e2e_sizes and not args.no_end_to_end:
        report_end_to_end(e2e_sizes, results)

    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0
