"""What the ``gru``, ``rnn`` and ``lstm`` operations share: argument checks, the dtype rule,
dropout masks and the mygrad ``Operation`` that drives a kernel.

Data flows one way: the functional wrapper checks every argument here, before
any work; the op turns tensors into arrays of one dtype; the kernel does all the
arithmetic; the op hands each variable its gradient through ``backward_var``.
"""

import copy
import functools
import weakref
from numbers import Integral, Real

import mygrad._utils.graph_tracking as _track
import numpy as np
from mygrad import Tensor
from mygrad._utils import SkipGradient
from mygrad.errors import InvalidBackprop
from mygrad.operation_base import Operation

__all__ = [
    "Checked",
    "RecurrentOp",
    "StatePartOp",
    "apply",
    "as_array",
    "as_input",
    "check_int",
    "check_lengths",
    "check_nonlinearity",
    "check_probability",
    "check_rng",
    "check_zoneout",
    "deepcopy_with_weak_references",
    "lockable",
    "own_memory",
    "real_array",
    "released",
    "unlockable_message",
]


class Checked:
    """The validated arguments of one call: arrays, sizes, dtype and options.

    ``params`` are the per-gate weights ("U…" (C, D), "W…" (P, D), "b…" (D,)) and
    the cell's extras, checked in order; the first fixes D. ``P`` is D unless the
    LSTM's projection ``Wp`` (D, P) is given; the states are ``s0`` (N, P) and, for
    the LSTM, ``c0`` (N, D)."""

    def __init__(
        self,
        X,
        params,
        s0,
        *,
        bp_lim,
        dropout,
        constant,
        rng,
        lengths,
        c0=None,
        Wp=None,
        zoneout=0.0,
        training=True,
        parts=("s",),
    ):
        self.inputs = {}  # name -> the Tensor as given, or its value as an array
        self.arrays = {}  # name -> the data as an array
        self.tracked = False  # whether a non-constant Tensor is among the inputs
        x = self.add("X", X)
        if x.ndim != 3:
            raise ValueError(f"X must have shape (T, N, C), got shape {x.shape}")
        self.T, self.N, self.C = x.shape
        first = next(iter(params))  # the first input weight fixes D
        u = real_array(first, params[first])
        if u.ndim != 2 or u.shape[0] != self.C:
            raise ValueError(f"{first} must have shape (C, D) with C = {self.C} from X, got shape {u.shape}")
        self.D = u.shape[1]
        sizes = {"C": self.C, "D": self.D, "N": self.N}
        why = {"C": "C from X", "D": f"D from {first}", "N": "N from X"}
        p = "D"  # the letter of the recurrent input width
        if Wp is not None:
            wp = real_array("Wp", Wp)
            if wp.ndim != 2 or wp.shape[0] != self.D or wp.shape[1] < 1:
                raise ValueError(
                    f"Wp must have shape (D, P) with D = {self.D} (D from {first}) and P >= 1, got shape {wp.shape}"
                )
            sizes["P"], why["P"], p = wp.shape[1], "P from Wp", "P"
            self.add("Wp", Wp)
        self.P = sizes[p]
        # each kind of parameter's shape, once (the letters only spell an error out)
        letters = {"U": ("C", "D"), "W": (p, "D"), "b": ("D",)}
        shapes = {"U": (self.C, self.D), "W": (self.P, self.D), "b": (self.D,)}
        for name, value in params.items():
            kind = name[0]
            self.add(name, value, shapes[kind], letters[kind], sizes, why)
        if s0 is not None:
            self.add("s0", s0, (self.N, self.P), ("N", p), sizes, why)
        if c0 is not None:
            self.add("c0", c0, (self.N, self.D), ("N", "D"), sizes, why)
        self.options(bp_lim, dropout, constant, rng, lengths, zoneout, training, parts)

    def add(self, name, value, want=None, letters=None, sizes=None, why=None):
        """Check and keep one argument: real numbers (``real_array``) and, if ``want`` is
        given, that shape, spelled out in ``letters`` of ``sizes`` (each size's origin in
        ``why``) if it is wrong. Returns its array."""
        a = real_array(name, value)
        if want is not None and a.shape != want:
            spelled = ", ".join(letters) + ("," if len(letters) == 1 else "")
            reasons = ", ".join(f"{k} = {sizes[k]} ({why[k]})" for k in dict.fromkeys(letters))
            raise ValueError(
                f"{name} must have shape ({spelled}) = {want} with {reasons}, got shape {a.shape}"
            )
        self.arrays[name] = a
        self.inputs[name] = value = as_input(name, value, a)
        if isinstance(value, Tensor):
            self.tracked = self.tracked or not value._constant
        return a

    def every_name(self, op):
        """Every argument of the call to ``op`` (a RecurrentOp class), in order; those
        not given are optional."""
        return op.names

    def zeros(self, name):
        """What an optional argument left out stands for, zeros in the compute dtype:
        the initial states s0 (N, P) and c0 (N, D), the GRU's bhn (D,)."""
        shape = {"s0": (self.N, self.P), "c0": (self.N, self.D), "bhn": (self.D,)}[name]
        return np.zeros(shape, self.dtype)

    def options(self, bp_lim, dropout, constant, rng, lengths, zoneout, training, parts):
        """Check and keep the options of a call, after its arrays (which fix T, N and the
        dtype): ``zoneout`` is one rate per state part of ``parts`` (a number is every part's)."""
        self.bp_lim = _check_bp_lim(bp_lim)
        self.dropout = check_probability("dropout", dropout)
        if constant is not None and not isinstance(constant, bool):
            raise TypeError(f"constant must be None, True or False, got {constant!r}")
        self.rng = check_rng(rng)
        self.lengths = None if lengths is None else check_lengths(lengths, self.T, self.N)
        self.dtype = _compute_dtype(self.arrays.values())
        if not isinstance(training, bool):
            raise TypeError(f"training must be True or False, got {training!r}")
        self.training = training
        rates = check_zoneout(zoneout, parts)
        self.zoneout = rates if any(rates) else None

    def _uniform(self):
        """The call's source of U[0, 1) draws, one for all its masks: numpy's global RNG
        (so np.random.seed reproduces a run), or a Generator (an int seeds a fresh one)."""
        if getattr(self, "_draw", None) is None:
            if self.rng is None:
                self._draw = np.random.random_sample
            else:
                gen = (
                    self.rng if isinstance(self.rng, np.random.Generator) else np.random.default_rng(self.rng)
                )
                self._draw = gen.random
        return self._draw

    def zoneout_masks(self, widths):
        """The zoneout of a call whose state parts have ``widths``: None without it; while
        training, one mask (T, N, width) per part of 0 and 1 (1: the unit keeps its previous
        value), drawn after the dropout masks; else the rates themselves (the expectation)."""
        if self.zoneout is None:
            return None
        if not self.training:
            return self.zoneout
        uniform = self._uniform()
        return tuple(
            (uniform((self.T, self.N, w)) < z).astype(self.dtype) for z, w in zip(self.zoneout, widths)
        )

    def draw_masks(self, op):
        """The dropout masks of a call to ``op`` (a RecurrentOp class), None without
        dropout or out of training (see ``masks``)."""
        return self.masks(op.mask_fields)

    def masks(self, fields, shapes=None):
        """Draw one dropout mask per field, in order: a dict from the field to its mask of
        the field's shape in ``shapes`` (default: "U…" (N, D), "W…" (P, D)), values 0 or
        1/(1-p) in the compute dtype; None without dropout or out of training."""
        if not self.dropout or not self.training:
            return None
        keep = 1.0 - self.dropout
        uniform = self._uniform()
        scale = np.asarray(1.0 / keep, dtype=self.dtype)
        out = {}
        for name in fields:
            if shapes is not None:
                shape = shapes[name]
            else:
                shape = (self.N, self.D) if name[0] == "U" else (self.P, self.D)
            out[name] = (uniform(shape) < keep).astype(self.dtype) * scale
        return out


def as_array(name, value):
    """A Tensor's data, a torch tensor's values (recognised without importing torch; also
    one that requires grad or lives on a GPU), or an array-like as an array. A ragged
    nested sequence (rows of different lengths) is a ValueError naming ``name``, not
    numpy's anonymous one, and a torch tensor numpy cannot read (bfloat16) a TypeError."""
    if isinstance(value, Tensor):
        return value.data
    if callable(getattr(value, "detach", None)) and callable(getattr(value, "numpy", None)):
        try:
            return value.detach().cpu().numpy()
        except (TypeError, RuntimeError) as e:
            raise TypeError(f"{name} must be a tensor numpy can read, got {e}") from None
    try:
        return np.asarray(value)
    except ValueError as e:  # numpy: "... has an inhomogeneous shape after k dimensions ..."
        raise ValueError(
            f"{name} must be an array or a nested sequence of one shape, got a ragged one (numpy: {e})"
        ) from None


def own_memory(a):
    """Whether the memory of array ``a`` is a numpy array's, which mygrad's memory guard
    can lock: not that of ``t.numpy()`` of a torch tensor, a buffer (numpy unpickles a
    large array onto ``bytes``) or a memmap."""
    owner = a
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    return isinstance(owner, np.ndarray)


def lockable(a):
    """``a``, or a copy of it when its memory is not a numpy array's (``t.numpy()`` of a
    torch tensor, a buffer, a memmap): mygrad's memory guard locks an array and its
    ``base`` through numpy's flags and fails, in every mygrad operation, on a base of
    another kind. Whatever owns the memory is never written to either way."""
    return a if own_memory(a) else a.copy()


# how many operations ``released`` looks at, upstream of a tensor, at most: a module's
# or an op's result shows a released graph within four, and a state carried on through
# a long live graph (a cell's loop) costs a call no more than this many
_RELEASED_DEPTH = 16


def released(t):
    """Whether a backward pass has released part of the graph that made the Tensor ``t``
    (the ``h_n`` of the previous batch, after that batch's backward): a gradient could
    no longer flow through it, and mygrad's next backward would raise ``InvalidBackprop``.
    Such a tensor is read as a constant, its values only, as ``mygru.nn.detach`` makes it."""
    if t._constant or t._creator is None:
        return False
    todo, seen = [t], set()
    while todo and len(seen) < _RELEASED_DEPTH:
        creator = todo.pop()._creator
        if creator is None or id(creator) in seen:
            continue
        seen.add(id(creator))
        for var in creator.variables:
            if var._constant:
                continue
            if not var._ops:  # what mygrad's backward refuses as a cleared graph
                return True
            todo.append(var)
    return False


def as_input(name: str, value: object, a: np.ndarray) -> Tensor | np.ndarray:
    """What an op or a module passes on for the argument ``name`` with value ``value``
    (its array ``a``): a Tensor as given, so that it gets its gradient; else an array
    mygrad can lock (``lockable``). A Tensor whose graph a backward has released
    (``released``) or a constant one over memory mygrad cannot lock is read as its
    values; a non-constant one over such memory is a TypeError naming ``name``."""
    if not isinstance(value, Tensor) or released(value):
        return lockable(a)
    if own_memory(a):
        return value
    if not value._constant:
        raise TypeError(unlockable_message(name))
    return a.copy()


def unlockable_message(name):
    """The error for a non-constant Tensor ``name`` over memory mygrad cannot lock."""
    return (
        f"{name} is a mygrad Tensor over memory that mygrad cannot lock (numpy unpickles a "
        f"large array onto a bytes buffer): mygrad cannot track it; use a copy, "
        f"{name} = mg.tensor({name})"
    )


# the dtypes mygru computes in or promotes (integers too): everything else is refused
_REAL_FLOATS = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64))
_COMMON = (np.dtype(np.float32), np.dtype(np.float64))  # the usual ones, checked first


def real_array(name, value):
    """The values of a Tensor or array-like argument, which must be real numbers of a
    dtype mygru computes in: integers (computed in float64, or float32 beside float32),
    float16 (in float32), float32 or float64. longdouble, complex, bool, object, str,
    datetime... are a TypeError naming ``name``, before any work (the one dtype rule of
    the ops and the modules)."""
    a = value.data if isinstance(value, Tensor) else as_array(name, value)
    dtype = a.dtype
    if dtype in _COMMON:  # (a tuple: tested by identity first, no hashing)
        return a
    if dtype.kind not in "iu" and dtype not in _REAL_FLOATS:
        hint = ": convert it first, e.g. with .astype(numpy.float64)" if a.dtype.kind == "f" else ""
        raise TypeError(
            f"{name} must hold real numbers of an integer, float16, float32 or float64 dtype, "
            f"got dtype {a.dtype}{hint}"
        )
    return a


def _compute_dtype(arrays):
    """The floating result type of the given inputs: float64 for integer-only input,
    float16 promoted to float32 (numpy has no fast float16 matrix product)."""
    dtype = np.result_type(*arrays)
    if dtype.kind != "f":
        return np.dtype(np.float64)
    return np.promote_types(dtype, np.float32)


def _check_bp_lim(bp_lim):
    if bp_lim is None:
        return None
    if isinstance(bp_lim, bool) or not isinstance(bp_lim, Integral):
        raise TypeError(f"bp_lim must be None or an int >= 0, got {bp_lim!r} of type {type(bp_lim).__name__}")
    if bp_lim < 0:
        raise ValueError(f"bp_lim must be None or an int >= 0, got {bp_lim}")
    return int(bp_lim)


def check_probability(name, value, high="1)"):
    """A number in [0, 1) (``high="1)"``, the ops' dropout) or [0, 1] (``high="1]"``)."""
    if type(value) is not float and (isinstance(value, bool) or not isinstance(value, Real)):
        raise TypeError(
            f"{name} must be a number in [0, {high}, got {value!r} of type {type(value).__name__}"
        )
    if not (0 <= value <= 1 if high == "1]" else 0 <= value < 1):
        raise ValueError(f"{name} must be in [0, {high}, got {value}")
    return float(value)


def check_int(name, value, minimum):
    """An int >= ``minimum`` (bool refused), named ``name`` when it is not."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def check_zoneout(zoneout, parts):
    """Zoneout's rates, one per state part of ``parts`` (a number is every part's), each
    in [0, 1)."""
    if isinstance(zoneout, (tuple, list)):
        if len(zoneout) != len(parts):
            raise ValueError(
                f"zoneout must be a number or a tuple of {len(parts)} rates, one per state part "
                f"{parts}, got {len(zoneout)} rates"
            )
        return tuple(check_probability(f"zoneout[{k}]", z) for k, z in enumerate(zoneout))
    return (check_probability("zoneout", zoneout),) * len(parts)


def check_rng(rng):
    """None, a numpy Generator, or an int seed >= 0 (returned as an int): the one rng
    check of the ops and the modules, so a bad seed fails here, not inside numpy."""
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, Integral):
        raise TypeError(
            f"rng must be None, an int seed >= 0 or a numpy.random.Generator, got {rng!r} "
            f"of type {type(rng).__name__}"
        )
    if rng < 0:
        raise ValueError(f"rng must be None, an int seed >= 0 or a numpy.random.Generator, got {rng}")
    return int(rng)


def check_nonlinearity(nonlinearity):
    """ "tanh" or "relu" (a str, so unhashable or array values fail here by name too)."""
    if not isinstance(nonlinearity, str) or nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return str(nonlinearity)


def check_lengths(lengths, T, N, source="X"):
    """``lengths`` as an int array of N values in 1..T (T, N from ``source``). An empty
    sequence (numpy reads ``[]`` as float64) is fine for N = 0."""
    a = as_array("lengths", lengths)
    if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
        raise TypeError(f"lengths must hold integers, got dtype {a.dtype}")
    if a.shape != (N,):
        raise ValueError(f"lengths must have shape (N,) = ({N},) with N from {source}, got shape {a.shape}")
    if N and (a.min() < 1 or a.max() > T):
        raise ValueError(
            f"lengths must lie in 1..T = 1..{T} with T from {source}, got values from {a.min()} to {a.max()}"
        )
    return a.astype(np.intp)


def _arrays_in(obj, found, seen):
    """Every numpy array reachable from ``obj`` through Tensors' data and grad, the
    attributes of plain objects (a kernel), lists, tuples, dicts and weak references."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        found[id(obj)] = obj
    elif isinstance(obj, Tensor):
        _arrays_in(obj.data, found, seen)
        _arrays_in(obj._grad, found, seen)
    elif isinstance(obj, weakref.ref):
        _arrays_in(obj(), found, seen)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _arrays_in(item, found, seen)
    elif isinstance(obj, dict):
        for item in obj.values():
            _arrays_in(item, found, seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, (type, Operation)):
        _arrays_in(vars(obj), found, seen)


def _copy_arrays_keeping_views(obj, memo):
    """Seed ``memo`` with copies of the arrays reachable from ``obj`` that keep their
    sharing: the arrays that are views of one buffer (a kernel's gates and states, the
    results' data) become views of one copy of it, at the same offsets. A kernel's
    backward writes through one view and reads through another; ``copy.deepcopy`` alone
    would copy each view into memory of its own."""
    found = {}
    _arrays_in(obj, found, set())
    buffers = {}  # id of an array that owns its memory -> a copy of that memory
    for key, a in found.items():
        if key in memo:
            continue
        owner = a
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        if owner.base is not None or not (owner.flags.c_contiguous or owner.flags.f_contiguous):
            memo[key] = a.copy()  # memory of another kind: no views of it to keep
            continue
        if id(owner) not in buffers:
            # its bytes in memory order, in an array of their own (which mygrad can lock)
            buffers[id(owner)] = np.frombuffer(owner.tobytes(order="A"), np.uint8).copy()
        buffer = buffers[id(owner)]
        offset = a.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
        memo[key] = np.ndarray(a.shape, a.dtype, buffer=buffer, offset=offset, strides=a.strides)


def deepcopy_with_weak_references(op, memo):
    """``copy.deepcopy`` of an operation that refers to its results (or to another
    operation) weakly: the copy's weak references point to the copies, so a backward
    through a deep copy of a result fills that copy's ``grad``, never the original's.
    A result that was not copied along has nothing to refer to (None). Arrays that share
    memory in the operation, its kernel and its results share it in the copy too."""
    new = object.__new__(type(op))
    memo[id(op)] = new
    _copy_arrays_keeping_views(op.__dict__, memo)
    for key, value in op.__dict__.items():
        if isinstance(value, weakref.ref):
            value = _copied_reference(value, memo)
        elif isinstance(value, list) and any(isinstance(v, weakref.ref) for v in value):
            value = [_copied_reference(v, memo) if isinstance(v, weakref.ref) else v for v in value]
        else:
            value = copy.deepcopy(value, memo)
        new.__dict__[key] = value
    return new


def _copied_reference(ref, memo):
    """A weak reference to the deep copy of what ``ref`` refers to (None if that is gone)."""
    target = ref()
    return None if target is None else weakref.ref(copy.deepcopy(target, memo))


class RecurrentOp(Operation):
    """A mygrad Operation whose forward and backward are one recurrence kernel.

    Subclasses set ``names``: every argument by name, in order; a call's
    ``variables`` are those given (an instance's ``names``). The whole
    backward runs once, in :meth:`backward`; :meth:`backward_var` only hands out
    the gradients it computed. After backward the output tensor's ``grad`` is the
    total derivative dL/dS_t of every state (see the docs on ``s.grad``).

    The kernel's state may have several parts (the LSTM's h and c), each an output of
    its own: the first is this op's output, each other one the output of a small
    :class:`StatePartOp` of it, which mygrad therefore runs first in ``backward``: it
    hands this op that part's gradient, and this op's one backward takes them all.
    """

    names: tuple[str, ...]  # every argument the op takes, in order (see __call__)
    state_names: tuple[str, ...] = ("s0",)  # the arguments holding the initial state's parts
    mask_fields: tuple[str, ...]  # the fields of the dropout-mask NamedTuple
    masks_type: type
    dropout_masks: tuple[np.ndarray, ...] | None  # a masks_type, or None without dropout
    zoneout_masks: tuple[np.ndarray, ...] | None  # one (T, N, width) per state part, or None
    bp_lim: int | None

    def __call__(self, *variables, names, kernel, checked, masks, keep, states, **kernel_kwargs):
        # ``names`` are those of ``variables``: the class's less the optional arguments
        # left out (the initial states, bhn), which are zeros here and no variables of
        # the graph, since nothing can hold them or want their gradient
        self.variables, self.names = variables, names
        dtype = checked.dtype
        arrays = {}
        for name, v in zip(names, variables):
            a = v.data
            arrays[name] = a if a.dtype == dtype else a.astype(dtype)
        every = checked.every_name(type(self))
        if len(names) < len(every):
            for name in every:
                if name not in arrays:
                    arrays[name] = checked.zeros(name)
        X = arrays.pop("X")
        s0 = tuple(arrays.pop(name) for name in self.state_names)
        self.dropout_masks = None if masks is None else self._expose(masks)
        kernel = kernel.build(X, arrays, s0, masks, checked.lengths, **kernel_kwargs)
        zone = checked.zoneout_masks(kernel.widths)
        self.zoneout_masks = zone if zone is None or checked.training else None
        if zone is not None:
            kernel.set_zoneout(zone)
        self.bp_lim = checked.bp_lim
        # keep the activations only if a backward pass can come
        kernel.backward_follows = keep and _track.TRACK_GRAPH
        S = kernel.forward()
        self._kernel = kernel if kernel.backward_follows else None
        if self._kernel is None:
            kernel.release()  # its work arrays go back to the workspace
        # the parts' outputs (weak references, set by ``apply``) and what reaches the
        # parts after the first from outside (handed over by their StatePartOps)
        self._outputs = [None] * len(S)
        self._part_grads = [None] * len(S)
        states.append(S)  # the caller makes the other parts' outputs (under no_autodiff too)
        return S[0]

    __deepcopy__ = deepcopy_with_weak_references

    def _expose(self, masks):
        """``dropout_masks`` from the masks drawn (a dict, in the order of the fields)."""
        return self.masks_type(*masks.values())

    def _need(self):
        """The kernel gradients the non-constant variables need."""
        return {kind for kind, v in zip(_kinds(self.names), self.variables) if not v._constant}

    def _hand_out(self, dS, grads):
        """Put the initial states' gradients into ``grads`` and on every part's output its
        documented ``.grad``, the total derivative of every state."""
        for name, d, ref in zip(self.state_names, dS, self._outputs):
            grads[name] = d[0]
            out = None if ref is None else ref()
            if out is not None:
                out._grad = d

    def backward(self, grad, **kwargs):
        need = self._need()
        grads_in = (grad, *self._part_grads[1:])  # what reaches each part from outside
        dS, grads = self._kernel.backward(grads_in, self.bp_lim, need)
        self._kernel.release()  # the cached activations go back to the workspace
        self._kernel = None
        self._hand_out(dS, grads)
        # What mygrad's Operation.backward would do, less its copy of every gradient
        # that is a view (a guard against in-place accumulation into memory that
        # something else holds): these are this call's new arrays, per-gate blocks of
        # one buffer each, so each variable takes its own as it is. Only the initial
        # states' are rows of dS, which the user holds as s.grad: those are copied.
        owners = {id(d if d.base is None else d.base) for d in dS}
        for name, var in zip(self.names, self.variables):
            if var._constant:
                continue
            if not var._ops:
                raise InvalidBackprop(
                    f"a backward pass released the graph that made the argument {name} (of shape "
                    f"{var.shape}) before this one: pass it as a constant, mygru.nn.detach({name})"
                )
            g = grads[name]
            if g.dtype != var.data.dtype or id(g.base) in owners:
                g = g.astype(var.data.dtype)  # a copy
            if var._grad is None:
                var._grad = g
            else:
                var._grad += g

    def backward_var(self, grad, index, **kwargs):
        raise SkipGradient("every gradient is handed out by backward")


# which kernel gradient each argument needs ("Uz" -> the input weights "U", ...)
_KIND = {k + g: k for k in "UWb" for g in ("", "z", "r", "h", "i", "f", "g", "o")}


@functools.lru_cache(maxsize=64)
def _kinds(names):
    """The kernel gradient each of ``names`` needs (``_KIND``; the others by their own name)."""
    return tuple(_KIND.get(name, name) for name in names)


class StatePartOp(Operation):
    """A state part after the first (the LSTM's ``c``), as an operation of the
    :class:`RecurrentOp`'s output ``s``: being downstream of ``s``, its backward runs
    before the RecurrentOp's and hands it this part's gradient (nothing to ``s``).

    It holds the RecurrentOp weakly: mygrad keeps an op's inputs read-only while the op
    lives, so a strong reference from a part that outlives a backward from ``s`` alone
    would keep the parameters locked against an optimizer's in-place step. While a
    backward can still reach the RecurrentOp, ``s`` keeps it alive."""

    __deepcopy__ = deepcopy_with_weak_references

    def __call__(self, s, *, op, index, value):
        self.variables = (s,)
        self.op = None if op is None else weakref.ref(op)  # None: no graph to reach
        self.index = index
        return value

    def backward_var(self, grad, index, **kwargs):
        op = None if self.op is None else self.op()
        if op is not None:  # else its graph was released by an earlier backward
            op._part_grads[self.index] = grad
        return np.zeros(self.variables[0].shape, grad.dtype)


def apply(op, checked, constant, *, kernel, **kernel_kwargs):
    """Run ``op`` on the checked arguments through mygrad, wiring up ``.grad`` of every
    state part. Returns the output Tensor, or a tuple of one per state part."""
    inputs = checked.inputs
    names = tuple([name for name in checked.every_name(op) if name in inputs])
    variables = [inputs[name] for name in names]
    masks = checked.draw_masks(op)
    # keep the activations only if a backward pass can reach this op
    keep = constant is False or (constant is None and checked.tracked)
    states = []  # the op's states, one array per part
    kwargs = dict(names=names, kernel=kernel, checked=checked, masks=masks, keep=keep, states=states)
    s = Tensor._op(op, *variables, op_kwargs=dict(kwargs, **kernel_kwargs), constant=constant)
    parts = [s]
    for index, value in enumerate(states[0][1:], 1):
        kwargs = dict(op=s.creator, index=index, value=value)
        parts.append(Tensor._op(StatePartOp, s, op_kwargs=kwargs, constant=constant))
    if s.creator is not None:
        s.creator._outputs = [weakref.ref(t) for t in parts]
    return s if len(parts) == 1 else tuple(parts)
