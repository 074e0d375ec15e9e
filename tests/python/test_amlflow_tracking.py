"""amlflow's helper on a tracking server: with MLFLOW_TRACKING_URI and MLFLOW_RUN_ID set (as
Azure ML sets them), rank 0 sends each record through MLflow's REST API (runs/log-batch)
with MLFLOW_TRACKING_TOKEN as the bearer token; other ranks send nothing; a server that does
not answer costs one warning, never an exception. A tiny HTTP server on loopback plays the
tracking server; the helper runs in a child process with the variables set."""
import json
import os
import subprocess
import sys
import threading
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer

HELPER = os.path.join(os.path.dirname(__file__), "..", "..", "stdlib", "python")


class _Tracking(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Tracking.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def run_script(code, env):
    full = dict(os.environ, PYTHONPATH=os.path.abspath(HELPER), **env)
    full.pop("AMLFLOW_METRICS", None)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60)


class TrackingServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = HTTPServer(("127.0.0.1", 0), _Tracking)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.uri = "http://127.0.0.1:%d/mlflow/v1.0/subscriptions/s/workspaces/w" % cls.server.server_port

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()

    def setUp(self):
        _Tracking.received.clear()

    def test_rank_zero_sends_metrics_and_params_as_log_batch(self):
        env = {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_RUN_ID": "job_7", "MLFLOW_TRACKING_TOKEN": "tok"}
        out = run_script("import amlflow\n"
                         "amlflow.log('loss', 0.5, step=2)\n"
                         "amlflow.log_metrics({'acc': 0.75, 'bad': float('nan')}, step=3)\n"
                         "amlflow.log_params({'lr': 0.01, 'opt': 'sgd'})\n", env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("[metric] loss=0.5 step=2", out.stdout)  # still printed outside amlflow's channel
        paths = [p for p, _, _ in _Tracking.received]
        self.assertEqual(paths, ["/mlflow/v1.0/subscriptions/s/workspaces/w/api/2.0/mlflow/runs/log-batch"] * 3)
        self.assertTrue(all(auth == "Bearer tok" for _, auth, _ in _Tracking.received))
        first, second, third = [b for _, _, b in _Tracking.received]
        self.assertEqual(first["run_id"], "job_7")
        self.assertEqual([(m["key"], m["value"], m["step"]) for m in first["metrics"]], [("loss", 0.5, 2)])
        self.assertIsInstance(first["metrics"][0]["timestamp"], int)
        self.assertEqual([(m["key"], m["value"]) for m in second["metrics"]], [("acc", 0.75), ("bad", "NaN")])
        self.assertEqual(third["params"], [{"key": "lr", "value": "0.01"}, {"key": "opt", "value": "sgd"}])

    def test_other_ranks_and_runs_without_a_run_id_send_nothing(self):
        out = run_script("import amlflow\namlflow.log('loss', 1.0)\n",
                         {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_RUN_ID": "job_7", "RANK": "1"})
        self.assertEqual(out.returncode, 0, out.stderr)
        out = run_script("import amlflow\namlflow.log('loss', 1.0)\n", {"MLFLOW_TRACKING_URI": self.uri})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(_Tracking.received, [])

    def test_an_unreachable_server_costs_one_warning(self):
        out = run_script("import amlflow\nfor i in range(3):\n    amlflow.log('loss', i, step=i)\nprint('trained')\n",
                         {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9/x", "MLFLOW_RUN_ID": "r"})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("trained", out.stdout)
        self.assertEqual(out.stderr.count("cannot send metrics to the tracking server"), 1, out.stderr)

    def test_azureml_scheme_is_reached_over_https(self):
        import importlib
        sys.path.insert(0, os.path.abspath(HELPER))
        amlflow = importlib.import_module("amlflow")
        os.environ["MLFLOW_TRACKING_URI"] = "azureml://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/s?x=1"
        os.environ["MLFLOW_RUN_ID"] = "r"
        try:
            self.assertEqual(amlflow._tracking_base(),
                             "https://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/s/api/2.0/mlflow")
        finally:
            del os.environ["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_RUN_ID"]


if __name__ == "__main__":
    unittest.main()
