"""The public API is annotated, the annotations resolve, and ``py.typed`` says so.

mypy (run by CI over ``mygru/``) checks that the annotations agree with the code; this
file checks that every public callable has them at all, so that a new public function
cannot go out untyped, and ``tests/typecheck_usage.py`` checks what a user's type
checker sees.
"""

import importlib
import inspect
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from mygrad import Tensor
from mygrad.operation_base import Operation

import mygru

# every public namespace and what it exports; the classes' methods are found below
NAMESPACES = ["mygru", "mygru.cells", "mygru.nn", "mygru.ops", "mygru.gradcheck", "mygru._kernels.workspace"]


def _functions_of(cls):
    """(qualified name, function) of each public method, property accessor, ``__init__``
    and ``__call__`` that mygru defines on ``cls`` or its mygru bases. The methods of
    mygrad's Operation protocol (backward, backward_var, ...) are mygrad's to type."""
    for klass in cls.__mro__:
        if not klass.__module__.startswith("mygru"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") and name not in ("__init__", "__call__"):
                continue
            if issubclass(cls, Operation) and hasattr(Operation, name):
                continue
            if isinstance(value, property):
                accessors = [("get", value.fget), ("set", value.fset)]
                for kind, fn in accessors:
                    if fn is not None:
                        yield f"{klass.__qualname__}.{name} ({kind})", fn
            elif isinstance(value, (classmethod, staticmethod)):
                yield f"{klass.__qualname__}.{name}", value.__func__
            elif inspect.isfunction(value):
                yield f"{klass.__qualname__}.{name}", value


def public_functions():
    found = {}
    for module_name in NAMESPACES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
            elif inspect.isclass(obj):
                for qualname, fn in _functions_of(obj):
                    found[f"{fn.__module__}.{qualname}"] = fn
    return found


FUNCTIONS = public_functions()


def test_the_public_api_is_found():
    # the walk above must see the API, or the checks below would pass on nothing
    names = set(FUNCTIONS)
    for expected in [
        "mygru.ops.gru.gru",
        "mygru.ops.rnn.rnn",
        "mygru.ops.lstm.lstm",
        "mygru.gradcheck.gradcheck",
        "mygru.ops.recurrence.recurrence",
        "mygru.cellcheck.check_cell",
        "mygru.cell.Cell.step_backward",
        "mygru.nn.recurrent.Recurrent.__init__",
        "mygru.nn.recurrent.Recurrent.__call__",
        "mygru.nn.torch_modules.GRU.__init__",
        "mygru.nn.torch_modules._SingleStateRecurrent.__call__",
        "mygru.nn.torch_modules._SingleStateCell.__call__",
        "mygru.nn.torch_modules.LSTM.__call__",
        "mygru.nn.torch_modules.LSTMCell.__call__",
        "mygru.nn._module._Module.load_state_dict",
        "mygru.nn._module._Module.from_torch",
        "mygru.nn._module._Module.parameters (get)",
        "mygru._kernels.workspace.Workspace.limit (set)",
        "mygru._kernels.workspace.Workspace.clear",
        "mygru.cells.indrnn.IndRNN.__init__",
        "mygru.cells.layernorm_lstm.LayerNormLSTM.step_backward",
        "mygru.cells.peephole_lstm.PeepholeLSTM.shapes",
        "mygru.cells.mgu.MGU.step",
    ]:
        assert expected in names


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_public_callable_is_fully_annotated(name):
    fn = FUNCTIONS[name]
    params = list(inspect.signature(fn).parameters.values())
    if "." in fn.__qualname__:  # a method: self or cls needs no annotation
        params = params[1:]
    missing = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    assert not missing, f"{name}: parameters without annotation: {missing}"
    assert "return" in fn.__annotations__, f"{name}: no return annotation"
    # and the annotations are real objects at runtime (no names hidden behind TYPE_CHECKING)
    typing.get_type_hints(fn)


def test_signatures_say_what_the_docs_say():
    hints = typing.get_type_hints(mygru.gru)
    assert hints["return"] is Tensor
    assert hints["bp_lim"] == int | None
    assert typing.get_type_hints(mygru.rnn)["nonlinearity"] == typing.Literal["tanh", "relu"]
    assert typing.get_type_hints(mygru.lstm)["return"] == tuple[Tensor, Tensor]
    call = typing.get_type_hints(mygru.nn.GRU.__call__)
    assert call["return"] == tuple[Tensor, Tensor]
    assert typing.get_type_hints(mygru.nn.GRUCell.__call__)["return"] is Tensor
    assert typing.get_type_hints(mygru.nn.LSTM.__call__)["return"] == tuple[Tensor, tuple[Tensor, Tensor]]
    assert typing.get_type_hints(mygru.nn.LSTMCell.__call__)["return"] == tuple[Tensor, Tensor]
    assert typing.get_type_hints(mygru.nn.GRU.state_dict)["return"] == dict[str, np.ndarray]
    assert typing.get_type_hints(mygru.gradcheck)["return"] is mygru.gradcheck.__globals__["GradcheckReport"]


def _attribute_hints(cls):
    """The attribute annotations of ``cls`` and its mygru bases, evaluated (what
    ``typing.get_type_hints`` does, without mygrad's own bases, whose annotations
    name Tensor only as a string it cannot resolve)."""
    hints = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("mygru"):
            namespace = vars(sys.modules[klass.__module__])
            for name, value in vars(klass).get("__annotations__", {}).items():
                hints[name] = eval(value, namespace) if isinstance(value, str) else value
    return hints


@pytest.mark.parametrize(
    "cls, attributes",
    [
        (mygru.GRUOp, {"dropout_masks", "bp_lim"}),
        (mygru.RNNOp, {"dropout_masks", "bp_lim"}),
        (mygru.LSTMOp, {"dropout_masks", "bp_lim"}),
        (mygru.nn.GRU, {"input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout"}),
        (mygru.nn.GRU, {"bidirectional", "variational_dropout", "dtype", "training"}),
        (mygru.nn.GRUCell, {"input_size", "hidden_size", "bias", "weight_ih", "weight_hh", "bias_ih"}),
        (mygru.nn.LSTM, {"proj_size", "num_layers", "bidirectional", "dtype", "training"}),
        (mygru.nn.LSTMCell, {"input_size", "hidden_size", "bias", "weight_ih", "weight_hh", "bias_ih"}),
    ],
)
def test_documented_attributes_are_annotated(cls, attributes):
    assert attributes <= set(_attribute_hints(cls))


def test_the_op_attributes_name_their_mask_tuple():
    assert _attribute_hints(mygru.GRUOp)["dropout_masks"] == mygru.DropoutMasks | None
    assert _attribute_hints(mygru.RNNOp)["dropout_masks"] == mygru.RNNDropoutMasks | None
    assert _attribute_hints(mygru.LSTMOp)["dropout_masks"] == mygru.LSTMDropoutMasks | None


def test_py_typed_ships_with_the_package():
    assert (Path(mygru.__file__).parent / "py.typed").is_file()
    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["mygru"]
