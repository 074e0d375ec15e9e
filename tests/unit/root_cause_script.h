// A two-rank script for the root-cause tests (test_root_cause_e2e.cc, test_azureml_e2e.cc):
// rank 1 raises first and lingers in its shutdown (as Horovod's background thread makes a
// failing rank do); rank 0, which only sees its collective break, then prints Horovod's and
// gloo's shutdown noise and a traceback of its own, and exits first. The cause is rank 1.
#pragma once

inline const char* kRank1RaisesFirst = R"PY(import atexit, os, sys, time
rank = os.environ["RANK"]
mark = os.path.join(os.environ.get("AMLFLOW_CHECKPOINTS", "."), "rank-1-raised")
print("rank", rank, "training", flush=True)
if rank == "1":
    atexit.register(time.sleep, 3)
    atexit.register(lambda: open(mark, "w").write("raised"))
    raise ValueError("bad batch 17 on rank 1")
for _ in range(1200):
    if os.path.exists(mark):
        break
    time.sleep(0.05)
print("[0]: Horovod has been shut down. This was caused by an exception on one of the ranks or an attempt "
      "to allreduce, allgather or broadcast a tensor after one of the ranks finished execution.", file=sys.stderr, flush=True)
raise RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:598] Connection closed by peer [127.0.0.1]:29500")
)PY";
