"""Tests of stdlib/python/amlflow_onnx_export.py with real torch and onnx: each loader,
the failures users meet (with their one-sentence errors), dynamic axes, opset, and the
numeric check (skipped without onnxruntime; its comparison and its failure path)."""
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
STDLIB = os.path.join(os.path.dirname(os.path.dirname(HERE)), "stdlib", "python")
sys.path.insert(0, STDLIB)
sys.path.insert(0, HERE)

import amlflow_onnx_export as exporter  # noqa: E402

try:
    import onnx
    import onnx.numpy_helper
    import torch

    import onnx_test_models
except ImportError:  # another interpreter: the exporter's tests need torch and onnx
    torch = None

SHAPE = [1, 3, 8, 8]


@unittest.skipIf(torch is None, "needs torch and onnx (run with /usr/bin/python3)")
class ExportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="amlflow-onnx-test-")
        torch.manual_seed(1)
        self.model = onnx_test_models.TinyNet().eval()
        self.no_ort = mock.patch.dict(os.environ, {"AMLFLOW_ONNX_NO_ORT": "1"})
        self.no_ort.start()

    def tearDown(self):
        self.no_ort.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def export(self, model_file, **fields):
        """Runs the exporter on a spec; returns (exit code, result, stdout, stderr)."""
        spec = {"model": model_file, "output": self.path("out/model.onnx"), "input_shape": SHAPE,
                "opset": 13, "input_names": ["input"], "output_names": ["output"], "dynamic_axes": {}}
        spec.update(fields)
        with open(self.path("spec.json"), "w") as f:
            json.dump(spec, f)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = exporter.main(["--spec", self.path("spec.json"), "--result", self.path("result.json")])
        with open(self.path("result.json")) as f:
            result = json.load(f)
        return code, result, out.getvalue(), err.getvalue()

    def assert_exported(self, code, result, loader):
        self.assertEqual(code, 0, result)
        self.assertTrue(result["ok"])
        self.assertEqual(result["loader"], loader)
        self.assertEqual(result["checker"], "passed")
        self.assertEqual(result["onnx"], self.path("out/model.onnx"))
        self.assertEqual(result["bytes"], os.path.getsize(self.path("out/model.onnx")))
        proto = onnx.load(self.path("out/model.onnx"))
        onnx.checker.check_model(proto)
        self.assertEqual([i["name"] for i in result["inputs"]], ["input"])
        self.assertEqual(result["inputs"][0]["shape"], SHAPE)
        self.assertEqual(result["outputs"], [{"name": "output", "shape": [1, 2]}])
        # The conv weights made it into the graph: the file holds the trained numbers.
        weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
        conv = next(w for w in weights.values() if w.shape == (4, 3, 3, 3))
        self.assertTrue((abs(conv - self.model.conv.weight.detach().numpy()) < 1e-6).all())

    def test_torchscript(self):
        torch.jit.script(self.model).save(self.path("model.pt"))
        self.assert_exported(*self.export(self.path("model.pt"))[:2], "torchscript")

    def test_pickled_whole_module(self):
        torch.save(self.model, self.path("model_full.pt"))
        self.assert_exported(*self.export(self.path("model_full.pt"))[:2], "module")

    def test_state_dict_with_factory(self):
        torch.save(self.model.state_dict(), self.path("state.pt"))
        code, result, _, _ = self.export(self.path("state.pt"), factory="onnx_test_models:build_model",
                                         factory_path=HERE)
        self.assert_exported(code, result, "state_dict")

    def test_checkpoint_dict_and_ddp_prefix(self):
        state = {"module." + k: v for k, v in self.model.state_dict().items()}
        torch.save({"epoch": 3, "model_state_dict": state}, self.path("ckpt.pt"))
        code, result, _, _ = self.export(self.path("ckpt.pt"), factory="onnx_test_models:build_model")
        self.assert_exported(code, result, "state_dict")

    def test_state_dict_without_factory(self):
        torch.save(self.model.state_dict(), self.path("state.pt"))
        code, result, out, err = self.export(self.path("state.pt"))
        self.assertEqual(code, 1)
        self.assertFalse(result["ok"])
        self.assertIn("holds a state dict", result["error"])
        self.assertIn('factory = "module:function"', result["error"])
        self.assertEqual(err.strip(), result["error"])
        self.assertNotIn("Traceback", err)
        self.assertFalse(os.path.exists(self.path("out/model.onnx")))

    def test_factory_errors(self):
        torch.save(self.model.state_dict(), self.path("state.pt"))
        cases = {
            "no_such_module_xyz:build": "cannot import module 'no_such_module_xyz'",
            "onnx_test_models:missing": "module 'onnx_test_models' has no 'missing'",
            "onnx_test_models:NOT_CALLABLE": "'NOT_CALLABLE' is not callable",
            "onnx_test_models:build_broken": "the factory could not find its config",
            "onnx_test_models:build_not_a_module": "returned a dict, not a torch.nn.Module",
            "onnx_test_models:build_wider": "does not fit the model",
            "build_model": "must have the form \"module:function\"",
        }
        for factory, message in cases.items():
            with self.subTest(factory=factory):
                code, result, _, err = self.export(self.path("state.pt"), factory=factory)
                self.assertEqual(code, 1)
                self.assertIn(message, result["error"])
                self.assertNotIn("Traceback", err)

    def test_missing_file(self):
        code, result, _, err = self.export(self.path("nope.pt"))
        self.assertEqual(code, 1)
        self.assertEqual(result, {"ok": False, "error": f"model file '{self.path('nope.pt')}' does not exist"})
        self.assertEqual(err.strip(), result["error"])

    def test_not_a_model(self):
        with open(self.path("notes.txt"), "w") as f:
            f.write("just some text\n")
        code, result, _, _ = self.export(self.path("notes.txt"))
        self.assertEqual(code, 1)
        self.assertIn("is not a model", result["error"])
        torch.save([1, 2, 3], self.path("list.pt"))
        code, result, _, _ = self.export(self.path("list.pt"))
        self.assertIn("holds a list, not a model or a state dict", result["error"])

    def test_pickled_class_not_importable(self):
        src = os.path.join(self.dir, "pkg")
        os.makedirs(src)
        with open(os.path.join(src, "vanishing_net.py"), "w") as f:
            f.write("from torch import nn\nclass Net(nn.Linear):\n    pass\n")
        sys.path.insert(0, src)
        try:
            import vanishing_net
            torch.save(vanishing_net.Net(4, 2), self.path("gone.pt"))
        finally:
            sys.path.remove(src)
            sys.modules.pop("vanishing_net", None)
        shutil.rmtree(src)
        code, result, _, _ = self.export(self.path("gone.pt"), input_shape=[1, 4])
        self.assertEqual(code, 1)
        self.assertIn("whose class cannot be imported", result["error"])
        self.assertIn("vanishing_net", result["error"])

    def test_pickled_class_from_main_script(self):
        # torch.save(model) in `python train.py` records the class as __main__.Net.
        script = ("import sys, torch\nfrom torch import nn\nclass Net(nn.Linear):\n    pass\n"
                  "torch.save(Net(4, 2), sys.argv[1])\n")
        subprocess.run([sys.executable, "-c", script, self.path("main.pt")], check=True, timeout=120)
        # Run as the runtime runs it: there, __main__ is the exporter itself.
        done, result = self.run_cli({"model": self.path("main.pt"), "output": self.path("o.onnx"),
                                     "input_shape": [1, 4]})
        self.assertEqual(done.returncode, 1)
        self.assertIn("class 'Net' was defined in the training script itself (__main__)", result["error"])

    def test_export_error_carries_the_message(self):
        torch.jit.script(self.model).save(self.path("model.pt"))
        # The model itself rejects a 2-d input: a clear sentence, not a traceback.
        code, result, _, err = self.export(self.path("model.pt"), input_shape=[2, 3])
        self.assertEqual(code, 1)
        self.assertIn("the model failed on an input of shape [2, 3]", result["error"])
        self.assertIn("Expected 3D (unbatched) or 4D (batched) input to conv2d", result["error"])
        self.assertNotIn("RuntimeError: RuntimeError", result["error"])
        self.assertNotIn("Traceback", err)
        # An opset torch cannot export to: torch's own message is kept.
        code, result, _, _ = self.export(self.path("model.pt"), opset=99)
        self.assertEqual(code, 1)
        self.assertTrue(result["error"].startswith("the export to ONNX failed: "), result["error"])
        self.assertIn("99", result["error"])

    def test_dynamic_axes(self):
        torch.save(self.model, self.path("model_full.pt"))
        code, result, _, _ = self.export(self.path("model_full.pt"),
                                         dynamic_axes={"input": {"0": "batch"}, "output": [0]})
        self.assertEqual(code, 0, result)
        self.assertEqual(result["inputs"][0]["shape"], ["batch", 3, 8, 8])
        proto = onnx.load(self.path("out/model.onnx"))
        in_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
        out_dim = proto.graph.output[0].type.tensor_type.shape.dim[0]
        self.assertEqual(in_dim.dim_param, "batch")
        self.assertTrue(out_dim.dim_param)  # torch names list-given axes itself
        self.assertFalse(out_dim.HasField("dim_value"))

    def test_dynamic_axes_must_name_an_input_or_output(self):
        torch.save(self.model, self.path("model_full.pt"))
        code, result, _, _ = self.export(self.path("model_full.pt"), dynamic_axes={"image": [0]})
        self.assertEqual(code, 1)
        self.assertIn("dynamic_axes names 'image'", result["error"])

    def test_opset_recorded(self):
        torch.jit.script(self.model).save(self.path("model.pt"))
        code, result, _, _ = self.export(self.path("model.pt"), opset=11,
                                         input_names=["image"], output_names=["logits"])
        self.assertEqual(code, 0, result)
        self.assertEqual(result["opset"], 11)
        proto = onnx.load(self.path("out/model.onnx"))
        self.assertEqual([o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")], [11])
        self.assertEqual([i.name for i in proto.graph.input], ["image"])
        self.assertEqual([o.name for o in proto.graph.output], ["logits"])

    def test_numeric_check_skipped_without_onnxruntime(self):
        torch.jit.script(self.model).save(self.path("model.pt"))
        code, result, out, _ = self.export(self.path("model.pt"))
        self.assertEqual(code, 0)
        message = "numeric check skipped: onnxruntime is not installed"
        self.assertEqual(result["numeric_check"], {"ran": False, "reason": message})
        self.assertIn(message, out)

    def fake_onnxruntime(self, offset):
        """An onnxruntime stand-in that answers with PyTorch's output plus offset."""
        model, seen = self.model, []

        class Session:
            def __init__(self, path, providers=None):
                seen.append(path)

            def get_inputs(self):
                return [types.SimpleNamespace(name="input")]

            def run(self, names, feed):
                with torch.no_grad():
                    return [(model(torch.from_numpy(feed["input"])) + offset).numpy()]

        return types.SimpleNamespace(InferenceSession=Session), seen

    def test_numeric_check_runs_when_onnxruntime_imports(self):
        torch.jit.script(self.model).save(self.path("model.pt"))
        for offset, ok in ((0.0, True), (0.5, False)):
            fake, seen = self.fake_onnxruntime(offset)
            with self.subTest(offset=offset), mock.patch.dict(sys.modules, {"onnxruntime": fake}), \
                    mock.patch.dict(os.environ, {"AMLFLOW_ONNX_NO_ORT": ""}):
                code, result, _, _ = self.export(self.path("model.pt"))
                self.assertEqual(seen, [self.path("out/model.onnx")])
                if ok:
                    self.assertEqual(code, 0, result)
                    self.assertEqual(result["numeric_check"], {"ran": True, "max_abs_diff": 0.0, "passed": True})
                else:
                    self.assertEqual(code, 1)
                    self.assertIn("differs from PyTorch's: max abs diff 0.5", result["error"])

    def run_cli(self, spec):
        """Runs the exporter's file in a fresh interpreter, from the test's temporary folder."""
        with open(self.path("spec.json"), "w") as f:
            json.dump(spec, f)
        argv = [sys.executable, os.path.join(STDLIB, "amlflow_onnx_export.py"),
                "--spec", self.path("spec.json"), "--result", self.path("result.json")]
        env = dict(os.environ, AMLFLOW_ONNX_NO_ORT="1", PYTHONPATH="")
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=self.dir)
        with open(self.path("result.json")) as f:
            return done, json.load(f)

    def test_command_line(self):
        torch.save(self.model.state_dict(), self.path("state.pt"))
        spec = {"model": self.path("state.pt"), "output": self.path("cli/model.onnx"), "input_shape": SHAPE,
                "factory": "onnx_test_models:build_model", "factory_path": HERE}
        done, result = self.run_cli(spec)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual((result["ok"], result["loader"], result["opset"]), (True, "state_dict", 13))
        # Without factory_path the factory's module is not found: exit 1, one sentence.
        del spec["factory_path"]
        done, result = self.run_cli(spec)
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stderr.strip(), result["error"])
        self.assertIn("cannot import module 'onnx_test_models'", done.stderr)
        self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)

    def test_factory_module_in_the_training_source_folder(self):
        # As the runtime runs it: factory_path is the training step's source folder, whose
        # module imports a sibling; the exporter's own interpreter has neither on its path.
        source = self.path("pytorch-birds")
        os.makedirs(source)
        with open(os.path.join(source, "layers.py"), "w") as f:
            f.write("from torch import nn\n\ndef make_head(width, classes):\n    return nn.Linear(width, classes)\n")
        with open(os.path.join(source, "birdnet.py"), "w") as f:
            f.write("import torch\nfrom torch import nn\nfrom layers import make_head\n\n"
                    "class BirdNet(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                    "        self.conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)\n"
                    "        self.head = make_head(4, 2)\n\n    def forward(self, x):\n"
                    "        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))\n\n"
                    "def build():\n    return BirdNet()\n")
        torch.save(self.model.state_dict(), self.path("model_state.pt"))
        spec = {"model": self.path("model_state.pt"), "output": self.path("cli/model.onnx"), "input_shape": SHAPE,
                "factory": "birdnet:build", "factory_path": source}
        done, result = self.run_cli(spec)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual((result["ok"], result["loader"]), (True, "state_dict"))
        proto = onnx.load(self.path("cli/model.onnx"))
        conv = next(onnx.numpy_helper.to_array(t) for t in proto.graph.initializer if len(t.dims) == 4)
        self.assertTrue((abs(conv - self.model.conv.weight.detach().numpy()) < 1e-6).all())
        # The sibling module missing: the error names the module, the folder and the cause.
        os.remove(os.path.join(source, "layers.py"))
        done, result = self.run_cli(spec)
        self.assertEqual(done.returncode, 1)
        self.assertIn(f"factory 'birdnet:build': cannot import module 'birdnet' from '{source}'", result["error"])
        self.assertIn("No module named 'layers'", result["error"])

    def test_two_input_model_is_refused_in_one_sentence(self):
        model = onnx_test_models.TwoInputNet().eval()
        torch.save(model.state_dict(), self.path("two.pt"))
        code, result, _, err = self.export(self.path("two.pt"), factory="onnx_test_models:build_two_input")
        self.assertEqual(code, 1)
        self.assertIn("the model's forward takes 2 inputs (x, mask), but the exporter feeds it one tensor "
                      "of input_shape [1, 3, 8, 8]: export a wrapper module", result["error"])
        self.assertEqual(err.strip(), result["error"])
        self.assertFalse(os.path.exists(self.path("out/model.onnx")))
        # TorchScript has no Python signature: the call's own error is explained the same way.
        torch.jit.script(model).save(self.path("two_ts.pt"))
        code, result, _, _ = self.export(self.path("two_ts.pt"))
        self.assertEqual(code, 1)
        self.assertIn("the model's forward takes more than one input, but the exporter feeds it one tensor",
                      result["error"])

    def test_two_input_names_are_refused(self):
        torch.jit.script(self.model).save(self.path("model.pt"))
        code, result, _, _ = self.export(self.path("model.pt"), input_names=["image", "mask"])
        self.assertEqual(code, 1)
        self.assertIn("input_names lists 2 names (image, mask), but the exporter feeds the model one input",
                      result["error"])


class SpecAndCompareTest(unittest.TestCase):
    """The parts that need no torch: the spec's checks and the numeric comparison."""

    def write(self, spec):
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            f.write(spec if isinstance(spec, str) else json.dumps(spec))
        self.addCleanup(os.remove, path)
        return path

    def test_spec_defaults_and_axes(self):
        spec = exporter.read_spec(self.write({"model": "/m.pt", "output": "/o.onnx", "input_shape": [1, 4],
                                              "dynamic_axes": {"input": {"0": "batch"}, "output": [0, 1]}}))
        self.assertEqual(spec["opset"], 13)
        self.assertEqual(spec["input_names"], ["input"])
        self.assertEqual(spec["output_names"], ["output"])
        self.assertEqual(spec["dynamic_axes"], {"input": {0: "batch"}, "output": [0, 1]})
        self.assertEqual((spec["factory"], spec["factory_path"]), ("", ""))

    def test_bad_specs(self):
        base = {"model": "/m.pt", "output": "/o.onnx", "input_shape": [1, 4]}
        cases = [
            ("{not json", "cannot read the export spec"),
            ([1, 2], "is not a JSON object"),
            ({**base, "model": ""}, "spec field 'model' must be a path"),
            ({**base, "input_shape": [1, 0]}, "'input_shape' must be a non-empty list of positive integers"),
            ({**base, "input_shape": "1,4"}, "'input_shape' must be a non-empty list"),
            ({**base, "opset": "13"}, "'opset' must be an integer"),
            ({**base, "input_names": []}, "'input_names' must be a non-empty list of names"),
            ({**base, "dynamic_axes": {"input": "0"}}, "dynamic_axes of 'input' must be a list"),
        ]
        for spec, message in cases:
            with self.subTest(spec=spec), self.assertRaises(exporter.ExportError) as caught:
                exporter.read_spec(self.write(spec))
            self.assertIn(message, str(caught.exception))

    @unittest.skipIf(torch is None, "compare needs numpy, which comes with torch")
    def test_compare(self):
        self.assertEqual(exporter.compare([[1.0, 2.0]], [[1.0, 2.0]]), (0.0, True))
        diff, ok = exporter.compare([[[1.0], [2.0]]], [[[1.0005], [2.0]]])
        self.assertAlmostEqual(diff, 0.0005)
        self.assertTrue(ok)
        diff, ok = exporter.compare([[1.0, 2.0]], [[1.0, 2.1]])
        self.assertAlmostEqual(diff, 0.1)
        self.assertFalse(ok)
        # Relative tolerance: large values may differ by more than 1e-3 absolutely.
        self.assertTrue(exporter.compare([[1000.0]], [[1000.5]])[1])
        self.assertFalse(exporter.compare([[1.0]], [[1.0, 2.0]])[1])  # shapes differ
        self.assertFalse(exporter.compare([[1.0]], [[1.0], [2.0]])[1])  # output counts differ
        self.assertFalse(exporter.compare([[1.0]], [[float("nan")]])[1])
        self.assertTrue(exporter.compare([[float("nan")]], [[float("nan")]])[1])
        inf = float("inf")
        self.assertEqual(exporter.compare([[inf, -inf]], [[inf, -inf]]), (0.0, True))
        self.assertFalse(exporter.compare([[inf]], [[5.0]])[1])  # no infinite tolerance
        self.assertFalse(exporter.compare([[inf]], [[-inf]])[1])
        big = [[[0.5] * 300] * 300]
        self.assertEqual(exporter.compare(big, big), (0.0, True))

    def test_no_raw_delimiter_for_embedding(self):
        # stdlib/embed_stdlib.cmake wraps each file in a C++ raw string.
        for name in ("amlflow.py", "amlflow_onnx_export.py"):
            with open(os.path.join(STDLIB, name)) as f:
                self.assertNotIn(")amlflow_stdlib\"", f.read(), name)


if __name__ == "__main__":
    unittest.main()
