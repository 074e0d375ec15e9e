"""amlflow's ONNX exporter: runs an `export onnx` step.

    python3 amlflow_onnx_export.py --spec spec.json --result result.json

The runtime writes the spec and runs this file with the step's environment's Python:

    {"model": "/abs/model.pt", "output": "/abs/outputs/model.onnx",
     "input_shape": [1, 3, 32, 32], "opset": 13, "input_names": ["input"],
     "output_names": ["output"], "dynamic_axes": {"input": [0]},
     "factory": "net:build_model", "factory_path": "/abs/source/folder"}

`factory` and `factory_path` may be missing or empty. `dynamic_axes` maps an input or
output name to a list of axis indexes or to a map {index: name}.

The model is loaded as TorchScript (torch.jit.load), else with torch.load as a whole
nn.Module, else as a state dict (a mapping of tensors, or a checkpoint dict holding one
under `state_dict`, `model_state_dict` or `model`), which is loaded into the module that
`factory` ("module:function", imported with `factory_path` first on sys.path) returns.
The model is exported on one random float32 input of `input_shape` (fixed seed): a model
whose forward needs two or more tensors is refused with a sentence that says so (export a
wrapper that takes one). The file
is checked with the ONNX checker, and when onnxruntime is installed the ONNX model is run
on the same input and compared with PyTorch's output.

The result file says what happened: {"ok": true, "loader": ..., "onnx": ..., "opset": ...,
"inputs": [...], "outputs": [...], "bytes": N, "checker": "passed", "numeric_check": {...}}
or {"ok": false, "error": "one sentence"} with exit code 1 and the sentence on stderr.
Only stdlib modules are imported at the top, so a missing torch or onnx is reported in
the result like any other failure.
"""
import argparse
import collections.abc
import importlib
import inspect
import json
import math
import os
import re
import sys
import traceback

# Tolerances of the numeric check: |onnx - torch| <= ATOL + RTOL * |torch|, elementwise.
ATOL = 1e-3
RTOL = 1e-3
SEED = 0


class ExportError(Exception):
    """An expected failure: its message is the one sentence the user sees."""


def one_line(text, limit=600):
    """An exception message squeezed onto one line, for a one-sentence error."""
    text = str(text)
    if "Traceback of TorchScript" in text:
        # The interpreter's stack is for the log; its last line is the actual error.
        lines = [line for line in text.splitlines() if line.strip()]
        text = lines[-1] if lines else text
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(error):
    """'Type: message' on one line, without the type twice (TorchScript repeats it)."""
    name, text = type(error).__name__, one_line(error)
    return text if text.startswith(name + ":") else f"{name}: {text}"


def _string_list(spec, key, default):
    value = spec.get(key, default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ExportError(f"spec field '{key}' must be a non-empty list of names")
    return value


def _dynamic_axes(spec, names):
    """dynamic_axes with JSON's string keys turned back into axis indexes."""
    raw = spec.get("dynamic_axes") or {}
    if not isinstance(raw, dict):
        raise ExportError("spec field 'dynamic_axes' must map names to axes")
    axes = {}
    for name, value in raw.items():
        if name not in names:
            raise ExportError(f"dynamic_axes names '{name}', which is not one of the input or output names "
                              f"({', '.join(names)})")
        try:
            if isinstance(value, list):
                axes[name] = [int(a) for a in value]
            elif isinstance(value, dict):
                axes[name] = {int(a): str(label) for a, label in value.items()}
            else:
                raise ValueError(value)
        except (TypeError, ValueError):
            raise ExportError(f"dynamic_axes of '{name}' must be a list of axis indexes "
                              f"or a map from index to name") from None
    return axes


def read_spec(path):
    try:
        with open(path) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        raise ExportError(f"cannot read the export spec '{path}': {one_line(e)}") from None
    if not isinstance(spec, dict):
        raise ExportError(f"the export spec '{path}' is not a JSON object")
    for key in ("model", "output"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise ExportError(f"spec field '{key}' must be a path")
    shape = spec.get("input_shape")
    if not isinstance(shape, list) or not shape or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise ExportError("spec field 'input_shape' must be a non-empty list of positive integers")
    opset = spec.get("opset", 13)
    if not isinstance(opset, int) or isinstance(opset, bool):
        raise ExportError("spec field 'opset' must be an integer")
    spec["opset"] = opset
    spec["input_names"] = _string_list(spec, "input_names", ["input"])
    spec["output_names"] = _string_list(spec, "output_names", ["output"])
    spec["dynamic_axes"] = _dynamic_axes(spec, spec["input_names"] + spec["output_names"])
    spec["factory"] = spec.get("factory") or ""
    spec["factory_path"] = spec.get("factory_path") or ""
    return spec


def import_torch():
    try:
        import torch
    except ImportError as e:
        raise ExportError(f"torch is not installed in the exporter's Python ({sys.executable}): "
                          f"{one_line(e)}") from None
    return torch


def _torch_load(torch, path):
    # torch >= 2.6 loads weights only by default, which refuses whole modules; the file
    # is the user's own model, produced by their own training step.
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError as e:
        if "weights_only" not in str(e):
            raise
        return torch.load(path, map_location="cpu")


def _state_dict_of(torch, obj):
    """The state dict inside obj, or None when obj is not one."""
    if not isinstance(obj, collections.abc.Mapping):
        return None
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    for key in ("state_dict", "model_state_dict", "model"):
        inner = obj.get(key)
        if isinstance(inner, collections.abc.Mapping) and inner and all(
                isinstance(v, torch.Tensor) for v in inner.values()):
            return inner
    return None


def build_from_factory(torch, factory, factory_path, model_path):
    if not factory:
        raise ExportError(f"'{model_path}' holds a state dict, which needs the model's code: set "
                          f"factory = \"module:function\" to a function that builds the model")
    module_name, sep, func_name = factory.partition(":")
    if not sep or not module_name or not func_name:
        raise ExportError(f"factory '{factory}' must have the form \"module:function\"")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # an ImportError, or any error raised while the module runs
        where = f" from '{factory_path}'" if factory_path else ""
        raise ExportError(f"factory '{factory}': cannot import module '{module_name}'{where}: "
                          f"{describe(e)}") from None
    func = module
    for part in func_name.split("."):
        func = getattr(func, part, None)
        if func is None:
            raise ExportError(f"factory '{factory}': module '{module_name}' has no '{func_name}'")
    if not callable(func):
        raise ExportError(f"factory '{factory}': '{func_name}' is not callable")
    try:
        model = func()
    except Exception as e:
        raise ExportError(f"factory '{factory}' failed when called with no arguments: "
                          f"{describe(e)}") from None
    if not isinstance(model, torch.nn.Module):
        raise ExportError(f"factory '{factory}' returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _load_state(model, state, factory):
    try:
        model.load_state_dict(state)
        return
    except RuntimeError as first:
        # DistributedDataParallel's state dict prefixes every key with "module.".
        if all(k.startswith("module.") for k in state):
            try:
                model.load_state_dict({k[len("module."):]: v for k, v in state.items()})
                return
            except RuntimeError:
                pass
        raise ExportError(f"the state dict does not fit the model that factory '{factory}' builds: "
                          f"{one_line(first)}") from None


def _unimportable_class(path, error):
    advice = "save TorchScript (torch.jit.script(model).save(path)), or a state dict and set factory, instead"
    found = re.search(r"Can't get attribute '([^']+)' on <module '__main__'", str(error))
    if found:
        # torch.save(model) in a script run as `python train.py` records the class as
        # __main__.Name, which no other process can import.
        return (f"'{path}' is a pickled model whose class '{found.group(1)}' was defined in the training "
                f"script itself (__main__), so it cannot be imported here; {advice}")
    return f"'{path}' is a pickled model whose class cannot be imported ({one_line(error)}); {advice}"


def load_model(torch, spec):
    """(model, loader name) for the spec's model file."""
    path = spec["model"]
    if not os.path.exists(path):
        raise ExportError(f"model file '{path}' does not exist")
    if os.path.isdir(path):
        raise ExportError(f"model '{path}' is a folder, not a model file")
    try:
        return torch.jit.load(path, map_location="cpu"), "torchscript"
    except Exception:
        pass  # not TorchScript: try a pickle next
    try:
        obj = _torch_load(torch, path)
    except (ImportError, AttributeError) as e:
        raise ExportError(_unimportable_class(path, e)) from None
    except Exception as e:
        raise ExportError(f"'{path}' is not a model: neither TorchScript nor a file torch.load reads "
                          f"({describe(e)})") from None
    if isinstance(obj, torch.nn.Module):
        return obj, "module"
    state = _state_dict_of(torch, obj)
    if state is None:
        raise ExportError(f"'{path}' holds a {type(obj).__name__}, not a model or a state dict")
    model = build_from_factory(torch, spec["factory"], spec["factory_path"], path)
    _load_state(model, state, spec["factory"])
    return model, "state_dict"


def _required_inputs(model):
    """The names of the forward parameters that have no default, or None when unknown.

    TorchScript modules have no Python signature; their call error is explained instead.
    """
    try:
        signature = inspect.signature(model.forward)
    except (TypeError, ValueError, AttributeError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in signature.parameters.values()
            if p.kind in kinds and p.default is inspect.Parameter.empty]


def _one_input_only(spec, required=None):
    """The message for a model that needs more than the one tensor the exporter feeds."""
    which = f" ({', '.join(required)})" if required else ""
    count = f"{len(required)} inputs" if required else "more than one input"
    return (f"the model's forward takes {count}{which}, but the exporter feeds it one tensor of "
            f"input_shape {spec['input_shape']}: export a wrapper module whose forward takes that one "
            f"tensor (and builds or fixes the others)")


def check_inputs(spec, model):
    """Refuses, in one sentence, what the exporter cannot do: more than one model input."""
    if len(spec["input_names"]) > 1:
        raise ExportError(f"input_names lists {len(spec['input_names'])} names "
                          f"({', '.join(spec['input_names'])}), but the exporter feeds the model one "
                          f"input of input_shape: give one name")
    required = _required_inputs(model)
    if required is not None and len(required) > 1:
        raise ExportError(_one_input_only(spec, required))


def _tensors(torch, out):
    """The tensors of a model's output, flattened in order (tuples, lists, dicts)."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(torch, o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(torch, o)]
    return []


def export(torch, model, spec, example):
    output = spec["output"]
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    try:
        torch.onnx.export(model, (example,), output, opset_version=spec["opset"],
                          input_names=spec["input_names"], output_names=spec["output_names"],
                          dynamic_axes=spec["dynamic_axes"] or None, do_constant_folding=True)
    except Exception as e:
        raise ExportError(f"the export to ONNX failed: {describe(e)}") from None


def _dims(value_info):
    """A graph input's or output's shape: sizes, and names for the dynamic axes."""
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]


def check_onnx(path):
    """(graph inputs, graph outputs, opset) of the checked ONNX file."""
    try:
        import onnx
    except ImportError as e:
        raise ExportError(f"onnx is not installed in the exporter's Python ({sys.executable}), "
                          f"so the exported file cannot be checked: {one_line(e)}") from None
    try:
        proto = onnx.load(path)
        onnx.checker.check_model(proto)
    except Exception as e:
        raise ExportError(f"the ONNX checker rejected '{path}': {one_line(e)}") from None
    initializers = {i.name for i in proto.graph.initializer}
    inputs = [{"name": v.name, "shape": _dims(v)} for v in proto.graph.input if v.name not in initializers]
    outputs = [{"name": v.name, "shape": _dims(v)} for v in proto.graph.output]
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    return inputs, outputs, opset


def compare(expected, actual, atol=ATOL, rtol=RTOL):
    """(max abs diff, passed) of two lists of arrays, elementwise: |a - e| <= atol + rtol * |e|.

    Equal infinities and NaN against NaN count as equal. numpy is imported here only:
    onnxruntime, the one caller's reason to run, depends on it.
    """
    import numpy as np
    if len(expected) != len(actual):
        return math.inf, False
    max_diff, passed = 0.0, True
    for e, a in zip(expected, actual):
        e, a = np.asarray(e, dtype=np.float64), np.asarray(a, dtype=np.float64)
        if e.shape != a.shape:
            return math.inf, False
        same = (e == a) | (np.isnan(e) & np.isnan(a))
        with np.errstate(invalid="ignore"):
            diff = np.where(same, 0.0, np.abs(e - a))
        diff = np.where(np.isnan(diff), np.inf, diff)
        close = same | (np.isfinite(diff) & (diff <= atol + rtol * np.abs(e)))
        max_diff = max(max_diff, float(diff.max()) if diff.size else 0.0)
        passed = passed and bool(close.all())
    return max_diff, passed


def load_onnxruntime():
    """The onnxruntime module, or None. AMLFLOW_ONNX_NO_ORT=1 pretends it is missing."""
    if os.environ.get("AMLFLOW_ONNX_NO_ORT") == "1":
        return None
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def numeric_check(torch, path, example, expected):
    ort = load_onnxruntime()
    if ort is None:
        reason = "numeric check skipped: onnxruntime is not installed"
        print(reason, flush=True)
        return {"ran": False, "reason": reason}
    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: example.numpy()}
        actual = session.run(None, feed)
    except Exception as e:
        raise ExportError(f"onnxruntime could not run '{path}': {describe(e)}") from None
    max_diff, passed = compare([t.detach().numpy() for t in expected], actual)
    print(f"numeric check: max abs diff {max_diff:.3g} between PyTorch and onnxruntime "
          f"({'passed' if passed else 'FAILED'})", flush=True)
    if not passed:
        raise ExportError(f"the ONNX model's output differs from PyTorch's: max abs diff {max_diff:.3g} "
                          f"exceeds the tolerance (atol {ATOL}, rtol {RTOL})")
    return {"ran": True, "max_abs_diff": max_diff, "passed": True}


def run(spec):
    torch = import_torch()
    if spec["factory_path"]:
        # Also lets a pickled whole module find its class.
        sys.path.insert(0, spec["factory_path"])
    model, loader = load_model(torch, spec)
    print(f"loaded '{spec['model']}' as {loader}", flush=True)
    model.eval()
    check_inputs(spec, model)
    torch.manual_seed(SEED)
    example = torch.randn(*spec["input_shape"], dtype=torch.float32)
    with torch.no_grad():
        try:
            expected = _tensors(torch, model(example))
        except Exception as e:
            if re.search(r"missing( \d+)? required positional argument|forward\(\) (is )?missing value for "
                         r"argument|Argument \w+ not provided", str(e)):
                # A TorchScript model (no Python signature) that wants more inputs.
                raise ExportError(_one_input_only(spec) + f" ({describe(e)})") from None
            raise ExportError(f"the model failed on an input of shape {spec['input_shape']}: "
                              f"{describe(e)}") from None
    export(torch, model, spec, example)
    inputs, outputs, opset = check_onnx(spec["output"])
    print(f"wrote '{spec['output']}' (opset {opset}); the ONNX checker passed", flush=True)
    return {"ok": True, "loader": loader, "onnx": spec["output"], "opset": opset,
            "inputs": inputs, "outputs": outputs, "bytes": os.path.getsize(spec["output"]),
            "checker": "passed", "numeric_check": numeric_check(torch, spec["output"], example, expected)}


def write_result(path, result):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Export a PyTorch model to ONNX for amlflow.")
    parser.add_argument("--spec", required=True, help="the export spec (JSON)")
    parser.add_argument("--result", required=True, help="where the result (JSON) goes")
    args = parser.parse_args(argv)
    try:
        result = run(read_spec(args.spec))
    except ExportError as e:
        result = {"ok": False, "error": str(e)}
    except Exception as e:
        traceback.print_exc()  # unexpected: the whole story goes to the step's log
        result = {"ok": False, "error": f"the exporter failed unexpectedly: {describe(e)}"}
    if not result["ok"]:
        print(result["error"], file=sys.stderr, flush=True)
    try:
        write_result(args.result, result)
    except OSError as e:
        print(f"cannot write the result '{args.result}': {one_line(e)}", file=sys.stderr, flush=True)
        return 1
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
