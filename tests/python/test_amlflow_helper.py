"""Tests of stdlib/python/amlflow.py, the metrics helper: the JSON-lines contract the
runtime parses, concurrency (threads and processes), bad input, and the stdout fallback."""
import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
STDLIB = os.path.join(os.path.dirname(os.path.dirname(HERE)), "stdlib", "python")
sys.path.insert(0, STDLIB)

import amlflow  # noqa: E402


class FakeTensor:
    """Stands in for a torch tensor: a value behind .item()."""

    def __init__(self, value):
        self.value = value

    def item(self):
        if isinstance(self.value, list):
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.value


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text:
        assert text.endswith("\n"), "the file ends in a torn line"
    return [json.loads(line) for line in text.splitlines()]


class ChannelTest(unittest.TestCase):
    """With AMLFLOW_METRICS set, records go to the file and nothing is printed."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "metrics-rank-0.jsonl")
        env = {"AMLFLOW_METRICS": self.path}
        self.env = mock.patch.dict(os.environ, env)
        self.env.start()
        os.environ.pop("AMLFLOW_METRICS_ECHO", None)

    def tearDown(self):
        self.env.stop()
        self.dir.cleanup()

    def log_quietly(self, fn, *args, **kwargs):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            fn(*args, **kwargs)
        return out.getvalue()

    def test_metric_format(self):
        before = time.time()
        printed = self.log_quietly(amlflow.log, "loss", 0.25, step=3)
        self.assertEqual(printed, "")
        [record] = read_lines(self.path)
        self.assertEqual(set(record), {"name", "value", "step", "time"})
        self.assertEqual(record["name"], "loss")
        self.assertEqual(record["value"], 0.25)
        self.assertEqual(record["step"], 3)
        self.assertIsInstance(record["time"], float)
        self.assertGreaterEqual(record["time"], before - 1)
        self.assertLessEqual(record["time"], time.time() + 1)

    def test_step_left_out_when_not_given(self):
        amlflow.log("accuracy", 1)
        [record] = read_lines(self.path)
        self.assertNotIn("step", record)
        self.assertEqual(record["value"], 1.0)
        self.assertIsInstance(record["value"], float)

    def test_non_finite_values_are_strings(self):
        amlflow.log("a", float("nan"))
        amlflow.log("b", math.inf, step=0)
        amlflow.log("c", -math.inf)
        with open(self.path) as f:
            raw = f.read()
        # Strict JSON: no bare NaN or Infinity tokens.
        self.assertNotIn(": NaN", raw)
        self.assertNotIn(": Infinity", raw)
        values = [r["value"] for r in read_lines(self.path)]
        self.assertEqual(values, ["NaN", "Infinity", "-Infinity"])
        # Python's float() reads them back.
        self.assertTrue(math.isnan(float(values[0])))
        self.assertEqual(float(values[2]), -math.inf)

    def test_tensors_and_bools(self):
        amlflow.log("t", FakeTensor(0.5), step=1)
        amlflow.log("flag", True)
        self.assertEqual([r["value"] for r in read_lines(self.path)], [0.5, 1.0])

    def test_log_metrics_one_step(self):
        amlflow.log_metrics({"val_loss": 0.5, "val_acc": 0.75}, step=2)
        records = read_lines(self.path)
        self.assertEqual([(r["name"], r["value"], r["step"]) for r in records],
                         [("val_loss", 0.5, 2), ("val_acc", 0.75, 2)])

    def test_log_metrics_checks_everything_first(self):
        with self.assertRaises(TypeError):
            amlflow.log_metrics({"good": 1.0, "bad": "x"})
        self.assertFalse(os.path.exists(self.path) and os.path.getsize(self.path))

    def test_params(self):
        amlflow.log_params({"lr": 0.01, "optimizer": "sgd", "epochs": 3, "nesterov": False})
        [record] = read_lines(self.path)
        self.assertEqual(record, {"params": {"lr": 0.01, "optimizer": "sgd", "epochs": 3, "nesterov": False}})

    def test_appends_to_existing_file(self):
        with open(self.path, "w") as f:
            f.write('{"name": "old", "value": 1.0}\n')
        amlflow.log("new", 2.0)
        self.assertEqual([r["name"] for r in read_lines(self.path)], ["old", "new"])

    def test_echo_prints_and_writes(self):
        with mock.patch.dict(os.environ, {"AMLFLOW_METRICS_ECHO": "1"}):
            printed = self.log_quietly(amlflow.log, "loss", 0.5, step=4)
        self.assertEqual(printed, "[metric] loss=0.5 step=4\n")
        self.assertEqual(len(read_lines(self.path)), 1)

    def test_threads_never_tear_lines(self):
        threads, per_thread = 8, 400
        # Long names make lines longer than a pipe's atomic size, to catch split writes.
        names = [f"thread{t}_" + "x" * 1500 for t in range(threads)]

        def work(t):
            for i in range(per_thread):
                amlflow.log(names[t], i, step=i)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        records = read_lines(self.path)
        self.assertEqual(len(records), threads * per_thread)
        for t in range(threads):
            steps = [r["step"] for r in records if r["name"] == names[t]]
            self.assertEqual(steps, list(range(per_thread)))  # each thread's order kept

    def test_processes_never_tear_lines(self):
        procs, per_proc = 4, 300
        code = ("import amlflow, sys\n"
                "r = int(sys.argv[1])\n"
                "for i in range(%d):\n"
                "    amlflow.log('rank%%d_' %% r + 'y' * 3000, i * 0.5, step=i)\n" % per_proc)
        env = dict(os.environ, PYTHONPATH=STDLIB, AMLFLOW_METRICS=self.path)
        running = [subprocess.Popen([sys.executable, "-c", code, str(r)], env=env) for r in range(procs)]
        for p in running:
            self.assertEqual(p.wait(timeout=60), 0)
        records = read_lines(self.path)
        self.assertEqual(len(records), procs * per_proc)
        for r in range(procs):
            mine = [rec for rec in records if rec["name"].startswith(f"rank{r}_")]
            self.assertEqual([rec["step"] for rec in mine], list(range(per_proc)))
            self.assertEqual(mine[-1]["value"], (per_proc - 1) * 0.5)

    def test_follows_a_changed_path(self):
        amlflow.log("first", 1.0)
        other = os.path.join(self.dir.name, "other.jsonl")
        with mock.patch.dict(os.environ, {"AMLFLOW_METRICS": other}):
            amlflow.log("second", 2.0)
        self.assertEqual([r["name"] for r in read_lines(self.path)], ["first"])
        self.assertEqual([r["name"] for r in read_lines(other)], ["second"])

    def test_unopenable_channel_falls_back_to_stdout(self):
        missing = os.path.join(self.dir.name, "no", "such", "folder", "m.jsonl")
        err = io.StringIO()
        with mock.patch.dict(os.environ, {"AMLFLOW_METRICS": missing}), contextlib.redirect_stderr(err):
            printed = self.log_quietly(amlflow.log, "loss", 1.5)
        self.assertEqual(printed, "[metric] loss=1.5\n")


class BadInputTest(unittest.TestCase):
    def test_name(self):
        with self.assertRaisesRegex(ValueError, "must not be empty"):
            amlflow.log("", 1.0)
        with self.assertRaisesRegex(TypeError, "name must be a str"):
            amlflow.log(3, 1.0)

    def test_value(self):
        with self.assertRaisesRegex(TypeError, "metric 'loss' must be a number, got str"):
            amlflow.log("loss", "0.5")
        with self.assertRaisesRegex(TypeError, "metric 'loss' must be a number"):
            amlflow.log("loss", None)
        with self.assertRaisesRegex(TypeError, "metric 'loss' must be a number"):
            amlflow.log("loss", 1 + 2j)
        with self.assertRaisesRegex(ValueError, "must be a single number"):
            amlflow.log("loss", FakeTensor([1.0, 2.0]))

    def test_step(self):
        with self.assertRaisesRegex(ValueError, "step must be >= 0, got -1"):
            amlflow.log("loss", 1.0, step=-1)
        with self.assertRaisesRegex(TypeError, "step must be an int, got float"):
            amlflow.log("loss", 1.0, step=1.5)
        with self.assertRaisesRegex(TypeError, "step must be an int, got bool"):
            amlflow.log("loss", 1.0, step=True)

    def test_dicts(self):
        with self.assertRaisesRegex(TypeError, "log_metrics takes a dict"):
            amlflow.log_metrics([("a", 1.0)])
        with self.assertRaisesRegex(TypeError, "param 'opt' must be a str, int, float or bool, got list"):
            amlflow.log_params({"opt": [1, 2]})
        with self.assertRaisesRegex(TypeError, "log_params takes a dict"):
            amlflow.log_params("lr=0.1")


class NoChannelTest(unittest.TestCase):
    """Outside amlflow, the same calls print, so scripts run anywhere."""

    def run_printed(self, fn, *args, **kwargs):
        env = {k: v for k, v in os.environ.items() if k not in ("AMLFLOW_METRICS", "AMLFLOW_METRICS_ECHO")}
        out = io.StringIO()
        with mock.patch.dict(os.environ, env, clear=True), contextlib.redirect_stdout(out):
            fn(*args, **kwargs)
        return out.getvalue()

    def test_prints_metrics(self):
        self.assertEqual(self.run_printed(amlflow.log, "loss", 0.25, step=3), "[metric] loss=0.25 step=3\n")
        self.assertEqual(self.run_printed(amlflow.log, "acc", 0.875), "[metric] acc=0.875\n")
        self.assertEqual(self.run_printed(amlflow.log, "bad", float("nan")), "[metric] bad=nan\n")

    def test_prints_batches_and_params(self):
        self.assertEqual(self.run_printed(amlflow.log_metrics, {"a": 1, "b": 2}, step=0),
                         "[metric] a=1 step=0\n[metric] b=2 step=0\n")
        self.assertEqual(self.run_printed(amlflow.log_params, {"lr": 0.1, "opt": "sgd"}),
                         "[params] lr=0.1 opt=sgd\n")

    def test_script_without_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMLFLOW_")}
        env["PYTHONPATH"] = STDLIB
        out = subprocess.run([sys.executable, "-c", "import amlflow; amlflow.log('loss', 2.5, step=1)"],
                             env=env, capture_output=True, text=True, timeout=60, check=True)
        self.assertEqual(out.stdout, "[metric] loss=2.5 step=1\n")


class ConvenienceTest(unittest.TestCase):
    def test_rank_and_folders(self):
        with mock.patch.dict(os.environ, {"RANK": "3", "AMLFLOW_OUTPUTS": "/o", "AMLFLOW_CHECKPOINTS": "/c"}):
            self.assertEqual(amlflow.rank(), 3)
            self.assertFalse(amlflow.is_main())
            self.assertEqual(amlflow.outputs_dir(), "/o")
            self.assertEqual(amlflow.checkpoint_dir(), "/c")
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "AMLFLOW_OUTPUTS", "AMLFLOW_CHECKPOINTS")}
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertEqual(amlflow.rank(), 0)
            self.assertTrue(amlflow.is_main())
            self.assertEqual(amlflow.outputs_dir(), "./outputs")
            self.assertEqual(amlflow.checkpoint_dir(), "./checkpoints")

    def test_imports_no_torch_or_numpy(self):
        code = "import sys, amlflow; print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
        out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=STDLIB),
                             capture_output=True, text=True, timeout=60, check=True)
        self.assertEqual(out.stdout.strip(), "[]")


if __name__ == "__main__":
    unittest.main()
