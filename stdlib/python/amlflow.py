"""amlflow's metrics helper for training scripts (standard library only).

    import amlflow
    amlflow.log_params({"lr": 0.01, "optimizer": "sgd"})
    amlflow.log("loss", loss, step=epoch)          # a float, a bool, or a tensor (.item())
    amlflow.log_metrics({"val_loss": vl, "val_acc": va}, step=epoch)
    if amlflow.is_main():
        torch.save(model.state_dict(), os.path.join(amlflow.outputs_dir(), "model.pt"))

The channel. amlflow gives each rank `AMLFLOW_METRICS`, the path of a file of its own;
the script appends JSON lines to it, one object per line, and amlflow reads them into
the run store. Two kinds of line:

    {"name": "loss", "value": 0.25, "step": 3, "time": 1763791234.123}
    {"params": {"lr": 0.01, "optimizer": "sgd"}}

- `name` is a non-empty string; `value` a float. JSON has no NaN or infinity, so those
  are written as the strings "NaN", "Infinity" and "-Infinity".
- `step` is an int >= 0 and is left out when not given; `time` is unix seconds.
- `params` maps names to str, int, float or bool values.

Each record (or each `log_metrics` batch) is written with a single `os.write` of whole
lines on a file opened once with O_APPEND, so lines never interleave or tear, whether
they come from threads or from processes sharing the file.

On a tracking server. Where the job's environment names an MLflow tracking server
(`MLFLOW_TRACKING_URI` and `MLFLOW_RUN_ID`, as Azure ML sets them for a job's processes),
rank 0 also sends each record there through MLflow's REST API (`runs/log-batch`, plain
urllib, no mlflow package): `azureml://` URIs are reached over https, and
`MLFLOW_TRACKING_TOKEN` is sent as the bearer token. amlflow reads them back from there into
its run store, as it reads the channel. A server that does not answer costs a warning on
stderr, never the training.

Outside amlflow (no `AMLFLOW_METRICS`) records are printed instead, as
`[metric] loss=0.25 step=3`, so the same script runs anywhere. `AMLFLOW_METRICS_ECHO=1`
prints them as well as writing them. Bad input raises TypeError or ValueError at the
call, never later.

The module imports neither torch nor numpy: anything with `.item()` is accepted as a
value.
"""
import json
import math
import operator
import os
import sys
import threading
import time
import urllib.error
import urllib.request

__all__ = ["log", "log_metrics", "log_params", "rank", "is_main", "outputs_dir", "checkpoint_dir"]

# The channel's file descriptor is opened once and kept; the lock only guards opening
# it (the writes themselves need no lock: O_APPEND makes each one atomic).
_lock = threading.Lock()
_fd = None
_fd_path = None
_warned = False


def _reset_after_fork():
    # A lock held by another thread at fork() would stay held forever in the child.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def rank():
    """This process's global rank (`RANK`), 0 when not set."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def is_main():
    """True on rank 0: the rank that should save models and write shared outputs."""
    return rank() == 0


def outputs_dir():
    """The step's outputs folder (`AMLFLOW_OUTPUTS`), else ./outputs."""
    return os.environ.get("AMLFLOW_OUTPUTS") or "./outputs"


def checkpoint_dir():
    """The checkpoint folder kept across attempts (`AMLFLOW_CHECKPOINTS`), else ./checkpoints."""
    return os.environ.get("AMLFLOW_CHECKPOINTS") or "./checkpoints"


def _check_name(name, what="metric"):
    if not isinstance(name, str):
        raise TypeError(f"amlflow: {what} name must be a str, got {type(name).__name__}")
    if not name:
        raise ValueError(f"amlflow: {what} name must not be empty")
    return name


def _to_float(name, value):
    """The metric's value as a float: numbers, bools, and tensors or arrays with .item()."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"amlflow: metric '{name}' must be a number, got {type(value).__name__} {value!r}")
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (int, float)):
        try:
            value = item()
        except (TypeError, ValueError, RuntimeError) as e:
            # A tensor of several elements: say so rather than torch's message alone.
            raise ValueError(f"amlflow: metric '{name}' must be a single number: {e}") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"amlflow: metric '{name}' must be a number, got {type(value).__name__}") from None


def _check_step(step):
    if step is None:
        return None
    if isinstance(step, bool):
        raise TypeError("amlflow: step must be an int, got bool")
    try:
        step = operator.index(step)
    except TypeError:
        raise TypeError(f"amlflow: step must be an int, got {type(step).__name__}") from None
    if step < 0:
        raise ValueError(f"amlflow: step must be >= 0, got {step}")
    return step


def _json_float(value):
    """JSON has no NaN or infinity: those travel as the strings Python's json reads back."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _metric_record(name, value, step):
    record = {"name": name, "value": _json_float(value)}
    if step is not None:
        record["step"] = step
    record["time"] = time.time()
    return record


def _dumps(record):
    return json.dumps(record, allow_nan=False, separators=(", ", ": ")) + "\n"


def _channel():
    """The open channel fd, or None outside amlflow (or when it cannot be opened)."""
    global _fd, _fd_path, _warned
    path = os.environ.get("AMLFLOW_METRICS")
    if not path:
        return None
    with _lock:
        if _fd is not None and _fd_path == path:
            return _fd
        if _fd is not None:
            os.close(_fd)
            _fd = None
        try:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            _fd, _fd_path = os.open(path, flags, 0o644), path
        except OSError as e:
            # Losing the channel must not stop training: the metrics still reach the log.
            if not _warned:
                print(f"amlflow: cannot open AMLFLOW_METRICS '{path}': {e}; printing metrics instead",
                      file=sys.stderr, flush=True)
                _warned = True
            return None
        return _fd


def _tracking_base():
    """MLflow's REST base (`<uri>/api/2.0/mlflow`), or None without a tracking server."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri or not os.environ.get("MLFLOW_RUN_ID"):
        return None
    if uri.startswith("azureml://"):
        uri = "https://" + uri[len("azureml://"):]
    if not uri.startswith(("http://", "https://")):
        return None  # a local file store: nothing to send over HTTP
    return uri.split("?", 1)[0].rstrip("/") + "/api/2.0/mlflow"


def _mlflow_value(value):
    return value if isinstance(value, str) else _json_float(float(value))


def _send_to_tracking(records):
    """Sends metric and params records to the tracking server as one log-batch (rank 0 only)."""
    global _warned
    base = _tracking_base()
    # Only the process whose channel file is rank-0.jsonl (RANK, else NODE_RANK for a
    # per-node launch, as the job's AMLFLOW_METRICS names it): amlflow reads the server's
    # records in place of that file, so each record reaches the run store once.
    if base is None or (os.environ.get("RANK") or os.environ.get("NODE_RANK") or "0").strip() != "0":
        return
    metrics, params = [], []
    for record in records:
        if "params" in record:
            params += [{"key": k, "value": json.dumps(v) if not isinstance(v, str) else v}
                       for k, v in record["params"].items()]
        else:
            metrics.append({"key": record["name"], "value": _mlflow_value(record["value"]),
                            "timestamp": int(record["time"] * 1000), "step": record.get("step", 0)})
    body = {"run_id": os.environ["MLFLOW_RUN_ID"], "metrics": metrics, "params": params, "tags": []}
    headers = {"Content-Type": "application/json"}
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(base + "/runs/log-batch", json.dumps(body).encode("utf-8"), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        if not _warned:
            print(f"amlflow: cannot send metrics to the tracking server: {e}", file=sys.stderr, flush=True)
            _warned = True


def _write(lines, printed, records=()):
    if records:
        _send_to_tracking(records)
    data = "".join(lines).encode("utf-8")
    fd = _channel()
    if fd is None or os.environ.get("AMLFLOW_METRICS_ECHO") == "1":
        print("\n".join(printed), flush=True)
    if fd is None:
        return
    written = os.write(fd, data)
    # A regular file takes the whole line at once; a short write happens only when the
    # disk fills, and then finishing the line beats leaving half of one.
    while written < len(data):
        data = data[written:]
        written = os.write(fd, data)


def _shown(value):
    return format(value, ".6g")


def _metric_line(name, value, step):
    return f"[metric] {name}={_shown(value)}" + ("" if step is None else f" step={step}")


def log(name, value, step=None):
    """Record one metric: `log("loss", 0.25, step=3)`."""
    _check_name(name)
    value = _to_float(name, value)
    step = _check_step(step)
    record = _metric_record(name, value, step)
    _write([_dumps(record)], [_metric_line(name, value, step)], [record])


def log_metrics(metrics, step=None):
    """Record several metrics at one step: `log_metrics({"loss": l, "acc": a}, step=3)`.

    Every value is checked before anything is written, so a bad one records none.
    """
    if not hasattr(metrics, "items"):
        raise TypeError(f"amlflow: log_metrics takes a dict, got {type(metrics).__name__}")
    step = _check_step(step)
    checked = [(_check_name(name), _to_float(name, value)) for name, value in metrics.items()]
    if not checked:
        return
    records = [_metric_record(n, v, step) for n, v in checked]
    _write([_dumps(r) for r in records], [_metric_line(n, v, step) for n, v in checked], records)


def _param_value(name, value):
    if isinstance(value, bool) or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return _json_float(value)
    raise TypeError(f"amlflow: param '{name}' must be a str, int, float or bool, got {type(value).__name__}")


def log_params(params):
    """Record the run's parameters: `log_params({"lr": 0.01, "optimizer": "sgd"})`."""
    if not hasattr(params, "items"):
        raise TypeError(f"amlflow: log_params takes a dict, got {type(params).__name__}")
    checked = {_check_name(name, "param"): _param_value(name, value) for name, value in params.items()}
    if not checked:
        return
    shown = " ".join(f"{k}={v}" for k, v in checked.items())
    _write([_dumps({"params": checked})], [f"[params] {shown}"], [{"params": checked}])
