// What a script sees wherever amlflow starts it (DESIGN §4, §5), through the real binary:
// the ranks of an `mpi` job started by one mpirun through the rank shim, each with its own
// identity from Open MPI's numbering, live log, metrics and exit; the root cause read from a
// rank's torchelastic error file; the environment each distribution gets with and without a
// file's own values; the caller's CUDA_VISIBLE_DEVICES; and no inherited file descriptor.
#include <dlfcn.h>
#include <fcntl.h>

#include <cstring>

#include <boost/test/unit_test.hpp>

#include "tests/unit/e2e_harness.h"

namespace {

// amlflow's environment as the sandbox gives it, with changes.
std::unique_ptr<Amlflow> start_with(Sandbox& box, const std::vector<std::string>& args,
                                    const std::map<std::string, std::string>& set,
                                    const std::vector<std::string>& unset = {}) {
    auto env = box.environment();
    for (const auto& [key, value] : set) env[key] = value;
    for (const std::string& key : unset) env.erase(key);
    static int count = 0;
    ++count;
    return std::make_unique<Amlflow>(args, box.root(), env, box.path("custom-" + std::to_string(count) + ".out"),
                                     box.path("custom-" + std::to_string(count) + ".err"));
}

json read_json(const fs::path& file) {
    return json::parse(read_file(file), nullptr, false);
}

// The lines of `text` that start with `prefix`, without it.
std::vector<std::string> lines_after(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    for (const std::string& line : lines_of(text)) {
        if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
    }
    return out;
}

std::string expected_line(int rank, int i) {
    char head[32];
    std::snprintf(head, sizeof head, "R%d line %05d ", rank, i);
    return head + std::string(static_cast<size_t>(i % 97), 'x');
}

std::string expected_err(int rank, int i) {
    char text[32];
    std::snprintf(text, sizeof text, "R%d err %05d", rank, i);
    return text;
}

// Every line of rank `rank`, whole and in order, and nothing of another rank.
void check_rank_lines(const std::vector<std::string>& lines, int rank, int count, const std::string& where) {
    int next_out = 0, next_err = 0, foreign = 0, broken = 0;
    for (const std::string& line : lines) {
        if (line.rfind("R" + std::to_string(rank) + " ", 0) != 0) {
            ++foreign;
            continue;
        }
        if (next_out < count && line == expected_line(rank, next_out)) ++next_out;
        else if (line == expected_err(rank, next_err * 10)) ++next_err;
        else ++broken;
    }
    BOOST_TEST(next_out == count, where << ": " << next_out << " of " << count << " stdout lines whole and in order");
    BOOST_TEST(next_err == count / 10, where << ": " << next_err << " stderr lines in order");
    BOOST_TEST(broken == 0, where << ": " << broken << " lines glued or cut");
    BOOST_TEST(foreign == 0, where << ": " << foreign << " lines of other ranks or unknown");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rank_contract)

// One mpirun for a 2 x 2 `mpi` job; every rank knows who it is (RANK from Open MPI's
// numbering), joins MPI through the shim, has a log with only its own whole lines under
// heavy interleaving, and its own metrics.
BOOST_AUTO_TEST_CASE(mpi_ranks_have_their_own_identity_logs_and_metrics) {
    Sandbox box;
    const int lines = 3000;
    box.write("src/ranks.py", R"PY(import json, os, sys
from mpi4py import MPI
import amlflow
comm = MPI.COMM_WORLD
r = int(os.environ["RANK"])
info = {k: os.environ.get(k) for k in ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "NODE_RANK",
        "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT", "OMPI_COMM_WORLD_RANK", "AMLFLOW_METRICS",
        "TORCHELASTIC_ERROR_FILE", "AMLFLOW_SHIM_SECRET", "AMLFLOW_SHIM_ADDRESS"]}
info["mpi_rank"] = comm.Get_rank()
info["mpi_size"] = comm.Get_size()
info["sum"] = comm.allreduce(r)
with open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], "env-%d.json" % r), "w") as f:
    json.dump(info, f)
amlflow.log("rank_value", r * 10)
# Each line in two writes with a flush between (PYTHONUNBUFFERED: two system calls), so
# lines of the four ranks interleave as finely as they can.
for i in range(LINES):
    line = "R%d line %05d " % (r, i) + "x" * (i % 97)
    sys.stdout.write(line[:5]); sys.stdout.flush()
    sys.stdout.write(line[5:] + "\n")
    if i % 10 == 0:
        sys.stderr.write("R%d err %05d\n" % (r, i))
comm.Barrier()
)PY");
    std::string script = read_file(box.path("src/ranks.py"));
    script.replace(script.find("LINES"), 5, std::to_string(lines));
    box.write("src/ranks.py", script);
    box.write("p.amlflow", R"(
environment py { python = "/usr/bin/python3" }
experiment e {
  job m {
    source       = "src"
    script       = "ranks.py"
    environment  = py
    distribution = mpi { nodes = 2, processes_per_node = 2 }
    timeout      = 5m
  }
}
)");
    // The display shows every line here (no rate limit), so it can be checked line by line.
    auto process = start_with(box, {"run", "p.amlflow"}, {{"AMLFLOW_TERMINAL_RATE", "0"}});
    Outcome r = process->wait(300);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    BOOST_TEST(contains(r.err, "started: 4 processes"), r);

    auto store = box.store();
    std::string run = box.only_run();
    auto step = step_record(*store, run, "m");
    BOOST_REQUIRE(step);
    std::set<std::string> ports;
    for (int rank = 0; rank < 4; ++rank) {
        BOOST_TEST_CONTEXT("rank " << rank) {
            json info = read_json(step->outputs / ("env-" + std::to_string(rank) + ".json"));
            BOOST_REQUIRE(info.is_object());
            BOOST_TEST(info["mpi_rank"] == rank);
            BOOST_TEST(info["mpi_size"] == 4);
            BOOST_TEST(info["sum"] == 6);  // the shim's child joined the MPI job
            BOOST_TEST(info["RANK"] == std::to_string(rank));
            BOOST_TEST(info["OMPI_COMM_WORLD_RANK"] == std::to_string(rank));
            BOOST_TEST(info["LOCAL_RANK"] == std::to_string(rank % 2));
            BOOST_TEST(info["NODE_RANK"] == std::to_string(rank / 2));
            BOOST_TEST(info["GROUP_RANK"] == std::to_string(rank / 2));
            BOOST_TEST(info["WORLD_SIZE"] == "4");
            BOOST_TEST(info["LOCAL_WORLD_SIZE"] == "2");
            BOOST_TEST(info["MASTER_ADDR"] == "127.0.0.1");
            ports.insert(info.value("MASTER_PORT", json("")).get<std::string>());
            BOOST_TEST(fs::path(info.value("AMLFLOW_METRICS", "")).filename() == "rank-" + std::to_string(rank) + ".jsonl");
            BOOST_TEST(fs::path(info.value("TORCHELASTIC_ERROR_FILE", "")).filename() ==
                       "rank-" + std::to_string(rank) + ".error.json");
            // The shim's own secret and address stay with the shim.
            BOOST_TEST(info["AMLFLOW_SHIM_SECRET"].is_null());
            BOOST_TEST(info["AMLFLOW_SHIM_ADDRESS"].is_null());
        }
    }
    BOOST_TEST(ports.size() == 1u);

    // One log per rank with its own lines, whole and in order; the terminal likewise.
    auto ranks = store->ranks_of(run, "m", 0);
    BOOST_REQUIRE(ranks);
    BOOST_REQUIRE_EQUAL(ranks->size(), 4u);
    std::set<int64_t> pids;
    for (const RankRecord& record : *ranks) {
        int rank = record.global_rank;
        BOOST_TEST_CONTEXT("rank " << rank) {
            BOOST_TEST(record.node_rank == rank / 2);
            BOOST_TEST(record.local_rank == rank % 2);
            BOOST_TEST(record.exit_code == 0);
            BOOST_TEST(record.pid > 0);
            pids.insert(record.pid);
            fs::path log = store->rank_log(run, "m", 0, rank);
            check_rank_lines(lines_of(read_file(log)), rank, lines, log.string());
            check_rank_lines(lines_after(r.out, "[m " + std::to_string(rank) + "] "), rank, lines, "the terminal");
        }
    }
    BOOST_TEST(pids.size() == 4u);

    // Metrics per rank, from each rank's own channel.
    auto metrics = store->metrics_of(run, "m");
    BOOST_REQUIRE(metrics);
    std::map<int, double> by_rank;
    for (const MetricRecord& metric : *metrics) {
        if (metric.name == "rank_value") by_rank[metric.rank] = metric.value;
    }
    BOOST_REQUIRE_EQUAL(by_rank.size(), 4u);
    for (int rank = 0; rank < 4; ++rank) BOOST_TEST(by_rank[rank] == rank * 10.0);
}

// The rank that failed first is the root cause, named by its MPI rank, with the exception
// that torch.distributed.elastic's @record wrote; the other ranks are stopped at once and
// the whole group restarts. The same error file is read for ranks amlflow starts itself.
BOOST_AUTO_TEST_CASE(root_cause_names_the_failing_rank_and_its_exception) {
    Sandbox box;
    box.write("src/fail.py", R"PY(import os, time
from torch.distributed.elastic.multiprocessing.errors import record
@record
def main():
    if os.environ["AMLFLOW_ATTEMPT"] == "0":
        if os.environ["RANK"] == os.environ["FAILING"]:
            raise ValueError("rank %s is broken" % os.environ["RANK"])
        time.sleep(120)
    print("rank", os.environ["RANK"], "fine on attempt", os.environ["AMLFLOW_ATTEMPT"], flush=True)
main()
)PY");
    box.write("p.amlflow", R"(
environment py { python = "/usr/bin/python3" }
compute here : local { cpus = 3 }
experiment e {
  job m {
    source = "src", script = "fail.py", environment = py, compute = here
    distribution = mpi { processes_per_node = 3 }
    variables    = { FAILING = "1" }
    restarts     = 1
    backoff      = 100ms
  }
  job p {
    source = "src", script = "fail.py", environment = py, compute = here, after = [m]
    distribution = pytorch { processes_per_node = 2 }
    variables    = { FAILING = "0" }
    restarts     = 1
    backoff      = 100ms
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 240);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    // The sleeping ranks were stopped when the first one failed, not waited for.
    BOOST_TEST(r.seconds < 100, r);
    auto store = box.store();
    std::string run = box.only_run();
    for (const auto& [name, failing] : std::map<std::string, int>{{"m", 1}, {"p", 0}}) {
        BOOST_TEST_CONTEXT("job " << name) {
            std::vector<AttemptRecord> tries = attempts(*store, run, name);
            BOOST_REQUIRE_EQUAL(tries.size(), 2u);
            BOOST_TEST(tries[0].state == AttemptState::Failed);
            BOOST_TEST(tries[1].state == AttemptState::Succeeded);
            json failure = failure_of(tries[0]);
            BOOST_TEST(failure.value("rank", -2) == failing, failure.dump());
            BOOST_TEST(failure.value("reason", "") == "exit");
            json error = failure.value("error", json());
            BOOST_REQUIRE_MESSAGE(error.is_object(), failure.dump());
            BOOST_TEST(error.value("type", "") == "ValueError");
            BOOST_TEST(error.value("message", "") == "rank " + std::to_string(failing) + " is broken");
            BOOST_TEST(contains(error.value("traceback", ""), "raise ValueError"));
        }
    }
    BOOST_TEST(contains(r.err, "step 'm' attempt 1 failed: rank 1 exited with code 1 (ValueError: rank 1 is broken)"), r);
    BOOST_TEST(contains(r.err, "step 'p' attempt 1 failed: rank 0 exited with code 1 (ValueError: rank 0 is broken)"), r);
    // Both attempts of the mpi job kept their own logs per rank.
    for (int attempt = 0; attempt < 2; ++attempt) {
        for (int rank = 0; rank < 3; ++rank) BOOST_TEST(fs::exists(store->rank_log(run, "m", attempt, rank)));
    }
    BOOST_TEST(contains(read_file(store->rank_log(run, "m", 1, 2)), "rank 2 fine on attempt 1"));
}

// A file's variables win over amlflow's defaults; the distribution's own cannot be set by
// the caller either; a job without a distribution sees none of torchrun's variables.
BOOST_AUTO_TEST_CASE(environment_of_each_distribution_with_and_without_the_files_values) {
    Sandbox box;
    box.write("src/env.py", R"PY(import json, os
name = os.environ["AMLFLOW_STEP"] + "-" + os.environ.get("RANK", "none")
with open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], name + ".json"), "w") as f:
    json.dump(dict(os.environ), f)
)PY");
    box.write("p.amlflow", R"(
environment py { python = "/usr/bin/python3" }
experiment e {
  job defaults { source = "src", script = "env.py", environment = py, distribution = pytorch { processes_per_node = 2 } }
  job own {
    source = "src", script = "env.py", environment = py, distribution = pytorch { processes_per_node = 2 }
    variables = { OMP_NUM_THREADS = "6", PYTHONFAULTHANDLER = "", CUDA_VISIBLE_DEVICES = "7",
                  NCCL_ASYNC_ERROR_HANDLING = "0", TORCH_NCCL_ASYNC_ERROR_HANDLING = "0" }
  }
  job plain { source = "src", script = "env.py", environment = py }
  job mpi { source = "src", script = "env.py", environment = py, distribution = mpi { processes_per_node = 2 } }
}
)");
    // amlflow itself started as if by another launcher, which set its own identity.
    auto process = start_with(box, {"run", "p.amlflow"},
                              {{"RANK", "5"}, {"WORLD_SIZE", "9"}, {"MASTER_ADDR", "10.9.9.9"}, {"LOCAL_RANK", "3"},
                               {"TORCHELASTIC_RUN_ID", "outer"}, {"FROM_CALLER", "kept"}});
    Outcome r = process->wait(120);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto env_of = [&](const std::string& step, const std::string& rank) {
        auto record = step_record(*store, run, step);
        BOOST_REQUIRE(record);
        json env = read_json(record->outputs / (step + "-" + rank + ".json"));
        BOOST_REQUIRE_MESSAGE(env.is_object(), step << " rank " << rank << " left no environment");
        return env;
    };
    for (const std::string& rank : {"0", "1"}) {
        json d = env_of("defaults", rank);
        BOOST_TEST(d.value("OMP_NUM_THREADS", "") == "1");
        BOOST_TEST(d.value("PYTHONUNBUFFERED", "") == "1");
        BOOST_TEST(d.value("PYTHONFAULTHANDLER", "") == "1");
        BOOST_TEST(d.value("CUDA_VISIBLE_DEVICES", "?") == "");
        BOOST_TEST(d.value("NCCL_ASYNC_ERROR_HANDLING", "") == "1");
        BOOST_TEST(d.value("TORCH_NCCL_ASYNC_ERROR_HANDLING", "") == "1");
        BOOST_TEST(d.value("WORLD_SIZE", "") == "2");
        BOOST_TEST(d.value("LOCAL_RANK", "") == rank);
        BOOST_TEST(d.value("MASTER_ADDR", "") == "127.0.0.1");
        BOOST_TEST(d.value("TORCHELASTIC_RUN_ID", "") == run);
        BOOST_TEST(d.value("TORCHELASTIC_MAX_RESTARTS", "") == "0");
        BOOST_TEST(d.value("TORCHELASTIC_USE_AGENT_STORE", "") == "False");
        BOOST_TEST(d.value("FROM_CALLER", "") == "kept");
        json o = env_of("own", rank);
        BOOST_TEST(o.value("OMP_NUM_THREADS", "") == "6");
        BOOST_TEST(o.value("PYTHONFAULTHANDLER", "?") == "");
        BOOST_TEST(o.value("CUDA_VISIBLE_DEVICES", "") == "7");
        BOOST_TEST(o.value("NCCL_ASYNC_ERROR_HANDLING", "") == "0");
        BOOST_TEST(o.value("TORCH_NCCL_ASYNC_ERROR_HANDLING", "") == "0");
        BOOST_TEST(o.value("RANK", "") == rank);
        json m = env_of("mpi", rank);
        BOOST_TEST(m.value("RANK", "") == rank);
        BOOST_TEST(m.value("WORLD_SIZE", "") == "2");
        BOOST_TEST(m.value("OMPI_COMM_WORLD_RANK", "") == rank);
    }
    // No distribution: the script runs as `python env.py` would.
    json p = env_of("plain", "none");
    for (const char* absent : {"RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "NODE_RANK",
                               "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT", "OMP_NUM_THREADS"}) {
        BOOST_TEST(!p.contains(absent), absent << " reached a job without a distribution");
    }
    BOOST_TEST(p.value("AMLFLOW_STEP", "") == "plain");
    BOOST_TEST(!p.value("TORCHELASTIC_ERROR_FILE", "").empty());
    BOOST_TEST(p.value("FROM_CALLER", "") == "kept");
}

// A caller's CUDA_VISIBLE_DEVICES is what amlflow hands out: `gpus` indexes into it, and a
// rank never gets an empty list because of it. (Without NVML here, the list is taken as
// the caller wrote it; with a driver it is checked against the GPUs NVML finds.)
BOOST_AUTO_TEST_CASE(caller_cuda_visible_devices_limits_what_ranks_get) {
    if (void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL)) {
        dlclose(nvml);
        BOOST_TEST_MESSAGE("skipped: this machine has an NVIDIA driver (scripts/gpu-check.sh covers it)");
        return;
    }
    Sandbox box;
    box.write("src/env.py", R"PY(import os
with open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], "visible-%s.txt" % os.environ.get("RANK", "0")), "w") as f:
    f.write(os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>") + "|" + os.environ.get("CUDA_DEVICE_ORDER", "<unset>"))
)PY");
    box.write("p.amlflow", R"(
environment py { python = "/usr/bin/python3" }
compute both   : local { gpus = all }
compute second : local { gpus = [1] }
experiment e {
  job all_of_them { source = "src", script = "env.py", environment = py, compute = both,
                    distribution = pytorch { processes_per_node = 2 } }
  job one { source = "src", script = "env.py", environment = py, compute = second, after = [all_of_them] }
}
)");
    auto process = start_with(box, {"run", "p.amlflow"}, {{"CUDA_VISIBLE_DEVICES", "2,3"}}, {"AMLFLOW_GPUS"});
    Outcome r = process->wait(120);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto all = step_record(*store, run, "all_of_them");
    auto one = step_record(*store, run, "one");
    BOOST_REQUIRE(all && one);
    // The caller numbered the GPUs in their own order, which stays theirs.
    BOOST_TEST(read_file(all->outputs / "visible-0.txt") == "2,3|<unset>");
    BOOST_TEST(read_file(all->outputs / "visible-1.txt") == "2,3|<unset>");
    BOOST_TEST(read_file(one->outputs / "visible-0.txt") == "3|<unset>");
}

// Ranks inherit stdin, stdout and stderr, and no other file descriptor of amlflow's or of
// whoever started amlflow, whichever way they are started.
BOOST_AUTO_TEST_CASE(ranks_inherit_no_file_descriptor) {
    Sandbox box;
    box.write("src/fds.py", R"PY(import os
fds = []
for fd in sorted(int(f) for f in os.listdir("/proc/self/fd")):
    try:
        link = os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        continue  # the listing's own descriptor, closed by now
    fds.append(fd)
with open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], "fds-%s.txt" % os.environ.get("RANK", "0")), "w") as f:
    f.write(" ".join(str(fd) for fd in fds))
)PY");
    box.write("p.amlflow", R"(
environment py { python = "/usr/bin/python3" }
experiment e {
  job local { source = "src", script = "fds.py", environment = py, distribution = pytorch { processes_per_node = 2 } }
  job plain { source = "src", script = "fds.py", environment = py }
  job mpi   { source = "src", script = "fds.py", environment = py, distribution = mpi { processes_per_node = 2 } }
}
)");
    // A descriptor left open without close-on-exec, as a careless caller would.
    int leaked = open(box.path("p.amlflow").c_str(), O_RDONLY);
    BOOST_REQUIRE(leaked > 2);
    Outcome r = box.run({"run", "p.amlflow"}, 120);
    close(leaked);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    for (const auto& [step, ranks] : std::map<std::string, int>{{"local", 2}, {"plain", 1}, {"mpi", 2}}) {
        auto record = step_record(*store, run, step);
        BOOST_REQUIRE(record);
        for (int rank = 0; rank < ranks; ++rank) {
            BOOST_TEST(read_file(record->outputs / ("fds-" + std::to_string(rank) + ".txt")) == "0 1 2",
                       step << " rank " << rank);
        }
    }
}

// Every byte a rank writes reaches its log, in order, also when the display leaves lines
// out (a rate far below what the ranks write) and when a rank is SIGKILLed in the middle of
// a line; the display says what it left out. Run twice: ranks writing their logs themselves
// (the default: the log is the bytes as the rank wrote them, a stderr line may land inside
// a stdout line cut by a write) and through the relay (AMLFLOW_LOG_LINES=1: whole lines).
namespace {

void check_every_byte_reaches_the_log(bool whole_lines, const std::string& distribution = "pytorch") {
    Sandbox box;
    const int lines = 20000;
    box.write("src/spray.py", R"PY(import os, signal, sys, time
r = int(os.environ["RANK"])
out = b"".join(b"R%d line %06d %s\n" % (r, i, b"y" * (i % 50)) for i in range(LINES))
# Writes of 8,000 bytes that cut lines anywhere, a stderr line now and then between them.
for n, at in enumerate(range(0, len(out), 8000)):
    os.write(1, out[at:at + 8000])
    if n % 7 == 0:
        os.write(2, b"R%d err %06d\n" % (r, n))
done = os.path.join(os.environ["AMLFLOW_OUTPUTS"], "done-%d" % r)
open(done, "w").close()
if r == 1:
    while not os.path.exists(os.path.join(os.environ["AMLFLOW_OUTPUTS"], "done-0")):
        time.sleep(0.01)
    time.sleep(0.3)  # rank 0 has exited
    os.write(1, b"R1 partial line without its newline")
    os.kill(os.getpid(), signal.SIGKILL)
)PY");
    std::string script = read_file(box.path("src/spray.py"));
    script.replace(script.find("LINES"), 5, std::to_string(lines));
    box.write("src/spray.py", script);
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\nexperiment e {\n"
                           "  job spray { source = \"src\", script = \"spray.py\", environment = py, distribution = " +
                           distribution + " { processes_per_node = 2 } }\n}\n");
    auto process = start_with(box, {"run", "p.amlflow"},
                              {{"AMLFLOW_TERMINAL_RATE", "2000"}, {"AMLFLOW_LOG_LINES", whole_lines ? "1" : "0"}});
    Outcome r = process->wait(120);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 2, r);
    BOOST_TEST(contains(r.err, "root cause: rank 1 was killed by signal 9"), r);
    BOOST_TEST(contains(r.out, "of output not shown"), r);
    BOOST_TEST(contains(r.err, "R1 partial line without its newline"), r);  // the failure's tail
    auto store = box.store();
    std::string run = box.only_run();
    for (int rank = 0; rank < 2; ++rank) {
        BOOST_TEST_CONTEXT("rank " << rank) {
            std::string text = read_file(store->rank_log(run, "spray", 0, rank));
            if (!whole_lines) {
                // The bytes as written: without its stderr lines, the log is stdout exactly.
                std::string out, errs;
                int err_lines = 0;
                for (int n = 0; n * 8000 < lines * 80; n += 7) {
                    char err[32];
                    std::snprintf(err, sizeof err, "R%d err %06d\n", rank, n);
                    std::size_t at = text.find(err);
                    if (at == std::string::npos) continue;
                    text.erase(at, std::strlen(err));
                    ++err_lines;
                }
                for (int i = 0; i < lines; ++i) {
                    char line[96];
                    std::snprintf(line, sizeof line, "R%d line %06d ", rank, i);
                    out += line + std::string(static_cast<size_t>(i % 50), 'y') + "\n";
                }
                if (rank == 1) out += "R1 partial line without its newline\n";
                BOOST_TEST(err_lines > 0);
                BOOST_TEST((text == out), "the log without its stderr lines is not stdout as written");
                continue;
            }
            std::vector<std::string> logged = lines_of(text);
            int next = 0, errs = 0, other = 0;
            std::string last;
            for (const std::string& line : logged) {
                char expected[96];
                std::snprintf(expected, sizeof expected, "R%d line %06d ", rank, next);
                if (next < lines && line == expected + std::string(static_cast<size_t>(next % 50), 'y')) ++next;
                else if (line.rfind("R" + std::to_string(rank) + " err ", 0) == 0) ++errs;
                else ++other, last = line;
            }
            BOOST_TEST(next == lines, next << " of " << lines << " lines whole and in order");
            BOOST_TEST(errs > 0);
            if (rank == 0) BOOST_TEST(other == 0);
            if (rank == 1) {
                BOOST_TEST(other == 1);
                BOOST_TEST(last == "R1 partial line without its newline");
                BOOST_TEST(logged.back() == "R1 partial line without its newline");
            }
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(logs_keep_every_byte_when_the_display_skips_and_a_rank_dies_mid_line) {
    check_every_byte_reaches_the_log(false);
}

// The same for ranks that mpirun starts: each rank's shim follows the log the rank writes.
BOOST_AUTO_TEST_CASE(mpi_ranks_logs_keep_every_byte_when_the_display_skips_and_a_rank_dies_mid_line) {
    check_every_byte_reaches_the_log(false, "mpi");
}

BOOST_AUTO_TEST_CASE(relayed_logs_keep_every_line_whole_when_the_display_skips_and_a_rank_dies_mid_line) {
    check_every_byte_reaches_the_log(true);
}

// The shim's ranks are supervised as local ones are: a silent rank is a hang (after its
// stacks were asked for), the attempt's timeout ends every rank, Ctrl-C stops them all, and
// nothing of the job (mpirun, shims, ranks) is left running afterwards.
BOOST_AUTO_TEST_CASE(mpi_hang_timeout_and_ctrl_c) {
    Sandbox box;
    fs::path pids = box.path("pids");
    fs::create_directories(pids);
    box.write("src/quiet.py", R"PY(import os, sys, time
with open(os.path.join(os.environ["PIDDIR"], "%s-%s" % (os.environ["AMLFLOW_STEP"], os.environ["RANK"])), "w") as f:
    f.write(str(os.getpid()))
for _ in range(600):
    if os.environ["RANK"] == "0" and os.environ["AMLFLOW_STEP"] == "hangs":
        print("rank 0 still talking", flush=True)
    time.sleep(0.1)
)PY");
    std::string common = "source = \"src\", script = \"quiet.py\", environment = py, "
                         "distribution = mpi { processes_per_node = 2 }, variables = { PIDDIR = " + quoted(pids) + " }";
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\nexperiment e {\n"
                           "  job hangs { " + common + ", hang_timeout = 1s }\n"
                           "  job slow  { " + common + ", timeout = 1s }\n}\n");
    Outcome r = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 2, r);
    BOOST_TEST(r.seconds < 30, r);
    auto store = box.store();
    std::string run = box.only_run();
    json hang = failure_of(attempts(*store, run, "hangs").at(0));
    BOOST_TEST(hang.value("reason", "") == "hang", hang.dump());
    BOOST_TEST(hang.value("rank", -2) == 1, hang.dump());
    json timeout = failure_of(attempts(*store, run, "slow").at(0));
    BOOST_TEST(timeout.value("reason", "") == "timeout", timeout.dump());
    BOOST_TEST(timeout.value("rank", -2) == -1, timeout.dump());
    // Ctrl-C: every rank stopped, the run canceled with 130.
    fs::remove_all(pids);
    fs::create_directories(pids);
    auto process = box.start({"run", "p.amlflow", "--step", "slow", "--force"});
    BOOST_REQUIRE(wait_until([&] { return read_pid(pids / "slow-0") > 0 && read_pid(pids / "slow-1") > 0; }, 30));
    std::vector<long> ranks = {read_pid(pids / "slow-0"), read_pid(pids / "slow-1")};
    process->signal(SIGINT);
    Outcome c = process->wait(30);
    BOOST_TEST(c.code == 130, c);
    BOOST_TEST(wait_until([&] { return !process_alive(ranks[0]) && !process_alive(ranks[1]); }, 3));
    for (long pid : ranks) {
        if (process_alive(pid)) kill(static_cast<pid_t>(pid), SIGKILL);
    }
}

// --dry-run of an mpi job shows the one mpirun and the line each rank's shim would run.
BOOST_AUTO_TEST_CASE(dry_run_of_an_mpi_job_shows_mpirun_and_each_rank) {
    Sandbox box;
    box.write("src/r.sh", "echo hi\n");
    box.write("p.amlflow", "experiment e {\n  job m { source = \"src\", command = [\"/bin/sh\", \"r.sh\"], "
                           "distribution = mpi { nodes = 2, processes_per_node = 1 } }\n}\n");
    Outcome r = box.run({"run", "p.amlflow", "--dry-run"}, 30);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    BOOST_TEST(contains(r.out, "would start 2 processes"), r);
    BOOST_TEST(contains(r.out, "through \"mpirun\" \"-np\" \"2\""), r);
    BOOST_TEST(contains(r.out, "\"amlflow-rank\" \"m\""), r);
    BOOST_TEST(contains(r.out, "[m 0] \"/bin/sh\" \"r.sh\""), r);
    BOOST_TEST(contains(r.out, "[m 1] \"/bin/sh\" \"r.sh\""), r);
    BOOST_TEST(contains(r.out, " RANK=1 "), r);
    BOOST_TEST(!fs::exists(box.home() / "store.db"), "--dry-run recorded a run");
}

BOOST_AUTO_TEST_SUITE_END()
