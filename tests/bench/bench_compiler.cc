// Compiler benchmarks: check + plan (compile_file with a plan) of
//   (a) each example, examples/*/*.amlflow, the typical file;
//   (b) generated files of N steps (default N = 1,000, 2,000, 5,000, 10,000), written
//       into a temporary folder together with the source folders and scripts they name.
//
// and, for each generated file, the rendering of its plan in each format (what
// `amlflow plan --format ...` does after compiling): plan_to_text, plan_to_json (with
// dump(2)), plan_to_dot, plan_to_mermaid.
//
// Prints one row per measurement: median and min wall-clock time over several
// repetitions (std::chrono::steady_clock), and the time per step. Then the growth of the
// per-step time from the smallest to the largest generated file (linear growth: about
// 1.0), for compiling and for each rendering, and a comparison with the targets
// (typical file <= 10 ms, 10,000 steps <= 0.5 s).
// Timings are never asserted: machines are noisy. The exit status is 0, or 1 when a
// benchmarked file does not compile cleanly (the figures would then mean nothing) or
// the command line is wrong.
//
//   bench_compiler [--root DIR] [--sizes 1000,2000,5000,10000] [--reps N]
//                  [--example-reps N] [--no-examples] [--check-only] [--no-render]
//                  [--reverse] [--keep] [--generate N FILE]
//
//   --root DIR         the repository (default: the source tree this was built from)
//   --sizes LIST       step counts of the generated files
//   --reps N           repetitions per generated file (default: 7 up to 2,000 steps,
//                      5 up to 5,000, 3 above)
//   --example-reps N   repetitions per example (default 21)
//   --check-only       also measure check without the plan (build_plan = false)
//   --no-render        do not measure the plan renderings
//   --reverse          write the generated steps consumers first (each job before the
//                      job whose outputs it reads): the same pipeline, in the order that
//                      is worst for an order-dependent topological sort
//   --keep             keep the temporary folder and print its path
//   --generate N FILE  only write a generated file of N steps (and its src/ folders
//                      next to it), e.g. to profile one compile under callgrind:
//                        bench_compiler --generate 1000 /tmp/g/gen.amlflow
//                        valgrind --tool=callgrind amlflow check /tmp/g/gen.amlflow
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <mimalloc.h>

#include "compiler/compile.h"
#include "compiler/diagnostics.h"
#include "compiler/loader.h"
#include "compiler/plan.h"

#ifndef AMLFLOW_SOURCE_DIR
#define AMLFLOW_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;
using amlflow::compiler::CompileOptions;
using amlflow::compiler::compile_file;

namespace {

// ---------------------------------------------------------------------------------------
// The generator.
//
// A realistic mix, in blocks of 20 step declarations (the last block is cut to N):
//   - a job template with parameters, a sweep over it, a binding of it
//     (`job x = tmpl(lr = ...)`), a register, an ONNX export and a download of the
//     sweep's best trial;
//   - 14 plain jobs with script, args, environment, compute, distribution, restarts,
//     timeouts, retry, metrics, variables and tags, each reading the previous job's
//     outputs (`prev.outputs / "..."` in args and inputs): a long chain of data edges,
//     with an `after` on an older job every so often.
// Steps are spread over experiments of at most 1,000 steps (names are unique per file).
// Four environments (one derived with `from`), two local computes, params and lets at
// the top, four source folders each with the scripts the jobs name.
// ---------------------------------------------------------------------------------------

constexpr int kSourceFolders = 4;
constexpr int kBlock = 20;
constexpr int kStepsPerExperiment = 1000;

std::string source_of(int i) { return "./src" + std::to_string(i % kSourceFolders); }

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) {
        std::cerr << "bench_compiler: cannot write " << path << "\n";
        std::exit(1);
    }
}

// Writes `file` (N step declarations) and the folders it names, next to it. With
// `reverse`, the steps are written consumers first (each job before the job it reads).
void generate(int steps, const fs::path& file, bool reverse) {
    fs::path folder = file.parent_path();
    fs::create_directories(folder);
    for (int s = 0; s < kSourceFolders; ++s) {
        fs::path src = folder / ("src" + std::to_string(s));
        fs::create_directories(src);
        write_text(src / "train.py", "import sys\nprint('train', sys.argv)\n");
        write_text(src / "prep.py", "import sys\nprint('prep', sys.argv)\n");
        write_text(src / "eval.py", "import sys\nprint('eval', sys.argv)\n");
        write_text(src / "requirements.txt", "torch\nnumpy\n");
    }

    std::ostringstream out;
    out << "// Generated by tests/bench/bench_compiler: " << steps << " steps.\n\n"
        << "import \"std/curated\"\n\n"
        << "param epochs: int = 4\n"
        << "param base_lr: float = 0.005\n"
        << "param trials: int = 4\n"
        << "let batch = 32\n"
        << "let out_dir = \"./outputs\"\n\n"
        << "environment torch {\n"
        << "  python    = \"/usr/bin/python3\"\n"
        << "  pip       = [\"torch\", \"numpy\", \"pandas\"]\n"
        << "  variables = { OMP_NUM_THREADS = \"1\", PYTHONUNBUFFERED = \"1\" }\n"
        << "}\n"
        << "environment torch_mpi from torch {\n"
        << "  image     = \"mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04\"\n"
        << "  variables = { OMP_NUM_THREADS = \"1\", OMPI_ALLOW_RUN_AS_ROOT = \"1\" }\n"
        << "}\n"
        << "environment sk {\n"
        << "  python = \"/usr/bin/python3\"\n"
        << "  pip    = [\"scikit-learn\"]\n"
        << "}\n"
        << "environment local_torch from curated.local_torch { variables = { OMP_NUM_THREADS = \"2\" } }\n\n"
        << "compute here  : local { cpus = 2 }\n"
        << "compute big   : local { cpus = 4 }\n\n";

    const char* envs[] = {"torch", "torch_mpi", "sk", "local_torch"};
    // Each step's text, in dependency order (producers first) ...
    std::vector<std::string> texts;
    int emitted = 0;
    std::string previous_job;  // the last plain job: the next one reads its outputs
    std::vector<std::string> jobs;
    while (emitted < steps) {
        std::ostringstream st;
        int block = emitted / kBlock;
        int slot = emitted % kBlock;
        std::string b = std::to_string(block);
        std::string env = envs[block % 4];
        std::string src = source_of(block);
        switch (slot) {
            case 0:  // a template
                st << "  job tmpl" << b << "(lr: float = base_lr, bs: int = batch) {\n"
                    << "    source       = \"" << src << "\"\n"
                    << "    script       = \"train.py\"\n"
                    << "    args         = [\"--epochs\", epochs, \"--lr\", lr, \"--batch_size\", bs, \"--output_dir\", out_dir]\n"
                    << "    environment  = " << env << "\n"
                    << "    compute      = here\n"
                    << "    distribution = pytorch { nodes = 1, processes_per_node = 2 }\n"
                    << "    restarts     = 1\n"
                    << "    timeout      = 30m\n"
                    << "    metrics      = [\"loss\", \"val_acc\"]\n"
                    << "  }\n";
                break;
            case 1:  // a sweep over it
                st << "  sweep tune" << b << " over tmpl" << b << " {\n"
                    << "    space {\n"
                    << "      lr = loguniform(1e-4, 1e-1)\n"
                    << "      bs = choice(16, 32, 64)\n"
                    << "    }\n"
                    << "    sampling   = random\n"
                    << "    objective  = maximize(\"val_acc\")\n"
                    << "    trials     = trials\n"
                    << "    parallel   = 1\n"
                    << "    early_stop = bandit { slack = 0.1, interval = 1, delay = 2 }\n";
                if (!previous_job.empty()) st << "    after      = [" << previous_job << "]\n";
                st << "  }\n";
                break;
            case 2:  // a binding of the template
                st << "  job fixed" << b << " = tmpl" << b << "(lr = 0.01, bs = 64) { restarts = 2 }\n";
                break;
            case 3:
                st << "  register model model" << b << " {\n"
                    << "    name        = \"model-" << b << "\"\n"
                    << "    path        = tune" << b << ".best.outputs / \"model.pt\"\n"
                    << "    description = \"best trial of tune" << b << "\"\n"
                    << "    tags        = { block = \"" << b << "\", framework = \"pytorch\" }\n"
                    << "  }\n";
                break;
            case 4:
                st << "  export onnx onnx" << b << " {\n"
                    << "    model        = tune" << b << ".best.outputs / \"model.pt\"\n"
                    << "    input_shape  = [1, 3, 32, 32]\n"
                    << "    opset        = 13\n"
                    << "    input_names  = [\"image\"]\n"
                    << "    output_names = [\"logits\"]\n"
                    << "    environment  = " << env << "\n"
                    << "  }\n";
                break;
            case 5:
                st << "  download best" << b << " { path = tune" << b << ".best.outputs, to = \"./downloads/" << b << "\" }\n";
                break;
            default: {  // a plain job in the chain
                std::string name = "job" + std::to_string(emitted);
                const char* script = slot % 3 == 0 ? "prep.py" : slot % 3 == 1 ? "train.py" : "eval.py";
                st << "  job " << name << " {\n"
                    << "    source       = \"" << src << "\"\n"
                    << "    script       = \"" << script << "\"\n"
                    << "    args         = [\"--epochs\", epochs, \"--step\", " << emitted;
                if (!previous_job.empty()) st << ", \"--input\", " << previous_job << ".outputs / \"data\"";
                st << ", \"--output_dir\", out_dir]\n"
                    << "    environment  = " << (slot % 2 ? env : "torch") << "\n"
                    << "    compute      = " << (slot % 4 == 0 ? "big" : "here") << "\n";
                if (slot % 3 == 0) st << "    distribution = mpi { processes_per_node = 2 }\n";
                else st << "    distribution = pytorch { nodes = 1, processes_per_node = 2 }\n";
                st << "    restarts     = 1\n"
                    << "    backoff      = 1s\n"
                    << "    timeout      = 2h\n"
                    << "    hang_timeout = 10m\n"
                    << "    retry { never_on_log = [\"CUDA out of memory\"], on_exit = [1] }\n"
                    << "    metrics      = [\"loss\"]\n"
                    << "    variables    = { STEP = \"" << emitted << "\" }\n"
                    << "    tags         = { block = \"" << b << "\" }\n";
                if (!previous_job.empty()) st << "    inputs       = { data = " << previous_job << ".outputs }\n";
                if (slot == 10 && jobs.size() > 20) st << "    after        = [" << jobs[jobs.size() - 20] << "]\n";
                st << "  }\n";
                previous_job = name;
                jobs.push_back(name);
                break;
            }
        }
        texts.push_back(st.str());
        ++emitted;
    }
    // ... or consumers first: the same steps in the opposite order.
    if (reverse) std::reverse(texts.begin(), texts.end());
    for (size_t i = 0; i < texts.size(); ++i) {
        if (i % kStepsPerExperiment == 0) {
            if (i > 0) out << "}\n\n";
            out << "experiment exp" << i / kStepsPerExperiment << " {\n";
        }
        out << texts[i];
    }
    out << "}\n";
    write_text(file, out.str());
}

// ---------------------------------------------------------------------------------------
// Measurement.
// ---------------------------------------------------------------------------------------

struct Timing {
    double median_ms = 0;
    double min_ms = 0;
    double median_cpu_ms = 0;  // user + system time of every thread of this process
    bool ok = true;
    std::string first_error;
};

// One repetition's wall-clock and CPU time. A large file is parsed on several threads,
// so on more than one processor the wall clock is less than the CPU time.
struct Sample {
    double wall_ms = 0;
    double cpu_ms = 0;
};

double process_cpu_ms() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
    return ms(usage.ru_utime) + ms(usage.ru_stime);
}

class Stopwatch {
public:
    Stopwatch() : wall_(std::chrono::steady_clock::now()), cpu_(process_cpu_ms()) {}
    Sample stop() const {
        auto now = std::chrono::steady_clock::now();
        return {std::chrono::duration<double, std::milli>(now - wall_).count(), process_cpu_ms() - cpu_};
    }

private:
    std::chrono::steady_clock::time_point wall_;
    double cpu_;
};

// One compile: returns its times, or nullopt (with the diagnostics) on an error.
std::optional<Sample> compile_once(const fs::path& file, bool plan, std::string* errors) {
    CompileOptions options;
    options.build_plan = plan;
    Stopwatch watch;
    auto result = compile_file(file.string(), options);
    Sample sample = watch.stop();
    if (!result->ok() || (plan && !result->plan)) {
        if (errors) {
            *errors = amlflow::compiler::render_text(result->diagnostics, amlflow::compiler::RenderOptions{});
        }
        return std::nullopt;
    }
    // Not timed: rendering the diagnostics and freeing the result (the AST, modules
    // and plan), which happens when `result` goes out of scope.
    return sample;
}

// One load and parse (load_modules: what `compile_file` does before checking).
Sample parse_once(const fs::path& file) {
    amlflow::compiler::Diagnostics diagnostics;
    Stopwatch watch;
    amlflow::compiler::ModuleSet modules = amlflow::compiler::load_modules(file.string(), {}, diagnostics);
    return watch.stop();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    size_t n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

Timing summarize(const std::vector<Sample>& samples) {
    Timing timing;
    std::vector<double> wall, cpu;
    for (const Sample& sample : samples) {
        wall.push_back(sample.wall_ms);
        cpu.push_back(sample.cpu_ms);
    }
    timing.median_ms = median(wall);
    timing.min_ms = *std::min_element(wall.begin(), wall.end());
    timing.median_cpu_ms = median(cpu);
    return timing;
}

Timing measure(const fs::path& file, bool plan, int reps) {
    Timing timing;
    std::string errors;
    if (!compile_once(file, plan, &errors)) {  // warm-up (and a check the file is clean)
        timing.ok = false;
        timing.first_error = errors.substr(0, errors.find("\n\n"));
        return timing;
    }
    std::vector<Sample> samples;
    for (int i = 0; i < reps; ++i) samples.push_back(*compile_once(file, plan, nullptr));
    return summarize(samples);
}

Timing measure_parse(const fs::path& file, int reps) {
    parse_once(file);  // warm-up
    std::vector<Sample> samples;
    for (int i = 0; i < reps; ++i) samples.push_back(parse_once(file));
    return summarize(samples);
}

// A plan rendered by `render` (whose result's size is kept so the work is
// not optimized away), timed `reps` times.
template <typename Render>
Timing measure_render(const amlflow::compiler::Plan& plan, int reps, Render render) {
    std::vector<Sample> samples;
    size_t sink = render(plan).size();  // warm-up
    for (int i = 0; i < reps; ++i) {
        Stopwatch watch;
        sink += render(plan).size();
        samples.push_back(watch.stop());
    }
    if (sink == 0) std::printf("(empty rendering)\n");
    return summarize(samples);
}

void print_header() {
    std::printf("%-34s %7s %5s %12s %12s %14s %14s %12s\n", "benchmark", "steps", "reps", "median_ms", "min_ms",
                "us/step(med)", "us/step(min)", "cpu_ms(med)");
}

void print_row(const std::string& name, int steps, int reps, const Timing& t) {
    if (!t.ok) {
        std::printf("%-34s %7d %5d  ERROR: does not compile cleanly: %s\n", name.c_str(), steps, reps,
                    t.first_error.c_str());
        return;
    }
    std::printf("%-34s %7d %5d %12.3f %12.3f %14.2f %14.2f %12.3f\n", name.c_str(), steps, reps, t.median_ms,
                t.min_ms, steps > 0 ? 1000.0 * t.median_ms / steps : 0.0, steps > 0 ? 1000.0 * t.min_ms / steps : 0.0,
                t.median_cpu_ms);
    std::fflush(stdout);
}

// Step declarations in a file: lines whose first word starts a step.
int count_steps(const fs::path& file) {
    std::ifstream in(file);
    std::string line;
    int steps = 0;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string first;
        words >> first;
        if (first == "job" || first == "sweep" || first == "register" || first == "export" || first == "download") {
            ++steps;
        }
    }
    return steps;
}

std::vector<int> parse_sizes(const std::string& text) {
    std::vector<int> sizes;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        int n = std::atoi(item.c_str());
        if (n <= 0) {
            std::cerr << "bench_compiler: bad size '" << item << "'\n";
            std::exit(1);
        }
        sizes.push_back(n);
    }
    return sizes;
}

// ---------------------------------------------------------------------------------------
// Peak memory, in a child process of its own (this program again, with --memory-child):
// the child compiles the file with a plan and renders it as text, as `amlflow plan` does,
// then prints its peak resident size (VmHWM of /proc/self/status, which counts only what
// this program touched since exec; getrusage's maxrss would count the forking parent's
// pages too). An idle child (the program loaded, nothing read) gives the floor that is
// subtracted. A file over the loader's
// 16 MiB limit is handed over as text (CompileOptions::main_text), which keeps one more
// copy of it alive: that figure errs high by one file size.
// ---------------------------------------------------------------------------------------

constexpr uintmax_t kLoaderLimit = 16u << 20;

long peak_resident_kb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return -1;
}

int memory_child(const std::string& mode, const fs::path& file) {
    if (mode != "idle") {
        CompileOptions options;
        if (fs::file_size(file) > kLoaderLimit) {
            std::ifstream in(file, std::ios::binary);
            options.main_text.emplace(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
        auto result = compile_file(file.string(), options);
        if (!result->plan) return 1;
        std::ofstream null("/dev/null");  // written a node at a time, as `amlflow plan` writes it
        amlflow::compiler::write_plan_text(*result->plan, null);
        if (!null) return 1;
    }
    std::printf("%ld\n", peak_resident_kb());
    return 0;
}

// Peak resident KiB of `self --memory-child MODE FILE`, or -1 when it failed.
long child_peak_kb(const std::string& self, const std::string& mode, const fs::path& file) {
    std::string command = "'" + self + "' --memory-child " + mode + " '" + file.string() + "'";
    FILE* child = ::popen(command.c_str(), "r");
    if (child == nullptr) return -1;
    long kb = -1;
    if (std::fscanf(child, "%ld", &kb) != 1) kb = -1;
    return ::pclose(child) == 0 ? kb : -1;
}

struct MemoryRow {
    int steps = 0;
    uintmax_t file_bytes = 0;
    double median_kb = -1;  // above the idle floor
};

MemoryRow measure_memory(const std::string& self, const fs::path& file, int steps, int reps) {
    MemoryRow row{steps, fs::file_size(file), -1};
    std::vector<double> peaks;
    for (int i = 0; i < reps; ++i) {
        long idle = child_peak_kb(self, "idle", file);
        long peak = child_peak_kb(self, "compile", file);
        if (idle < 0 || peak < 0) return row;
        peaks.push_back(static_cast<double>(peak - idle));
    }
    std::sort(peaks.begin(), peaks.end());
    row.median_kb = peaks[peaks.size() / 2];
    return row;
}

void print_memory(const MemoryRow& row, bool over_limit) {
    if (row.median_kb < 0) {
        std::printf("memory %d steps: ERROR: the child failed\n", row.steps);
        return;
    }
    double file_mb = row.file_bytes / 1048576.0, peak_mb = row.median_kb / 1024.0;
    std::printf("memory %7d steps: file %8.1f MiB, peak above an idle process %8.1f MiB = %5.1fx the file%s\n",
                row.steps, file_mb, peak_mb, peak_mb / file_mb, over_limit ? " (text handed over: +1 copy)" : "");
    std::fflush(stdout);
}

int default_reps(int steps) { return steps <= 2000 ? 7 : steps <= 5000 ? 5 : 3; }

}  // namespace

int main(int argc, char** argv) {
    mi_option_set(mi_option_decommit_delay, 0);  // as amlflow's main sets it (cli/main.cc)
    fs::path root = AMLFLOW_SOURCE_DIR;
    std::vector<int> sizes = {1000, 2000, 5000, 10000};
    int reps = 0;
    int example_reps = 21;
    bool examples = true;
    bool check_only = false;
    bool render = true;
    bool reverse = false;
    bool keep = false;
    std::vector<int> memory_sizes = {10000, 100000};
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "bench_compiler: " << arg << " needs a value\n";
                std::exit(1);
            }
            return argv[++i];
        };
        if (arg == "--root") root = value();
        else if (arg == "--sizes") sizes = parse_sizes(value());
        else if (arg == "--reps") reps = std::max(1, std::atoi(value().c_str()));
        else if (arg == "--example-reps") example_reps = std::max(1, std::atoi(value().c_str()));
        else if (arg == "--no-examples") examples = false;
        else if (arg == "--check-only") check_only = true;
        else if (arg == "--no-render") render = false;
        else if (arg == "--reverse") reverse = true;
        else if (arg == "--keep") keep = true;
        else if (arg == "--memory-sizes") memory_sizes = parse_sizes(value());
        else if (arg == "--no-memory") memory_sizes.clear();
        else if (arg == "--memory-child" && i + 2 < argc) return memory_child(argv[i + 1], argv[i + 2]);
        else if (arg == "--generate") {
            int n = parse_sizes(value()).at(0);
            fs::path file = fs::absolute(value());
            generate(n, file, reverse);
            std::printf("wrote %s (%d steps)\n", file.string().c_str(), count_steps(file));
            return 0;
        } else {
            std::cerr << "usage: bench_compiler [--root DIR] [--sizes N,N,...] [--reps N] [--example-reps N]\n"
                         "                      [--no-examples] [--check-only] [--no-render] [--reverse]\n"
                         "                      [--keep] [--memory-sizes N,N,...] [--no-memory] [--generate N FILE]\n";
            return arg == "--help" || arg == "-h" ? 0 : 1;
        }
    }

    bool all_ok = true;
    std::printf("amlflow compiler benchmark: check + plan (compile_file), wall clock (steady_clock) and CPU time of all threads (getrusage)\n");
    print_header();

    // (a) the examples
    std::optional<Timing> typical;
    double slowest_example_ms = 0;
    std::string slowest_example;
    if (examples) {
        std::vector<fs::path> files;
        std::error_code error;
        for (const auto& dir : fs::directory_iterator(root / "examples", error)) {
            if (!dir.is_directory()) continue;
            for (const auto& entry : fs::directory_iterator(dir.path(), error)) {
                if (entry.path().extension() == ".amlflow") files.push_back(entry.path());
            }
        }
        std::sort(files.begin(), files.end());
        if (files.empty()) std::printf("(no examples under %s)\n", (root / "examples").string().c_str());
        for (const fs::path& file : files) {
            int steps = count_steps(file);
            std::string name = "example " + file.stem().string();
            Timing t = measure(file, true, example_reps);
            print_row(name, steps, example_reps, t);
            if (check_only) print_row(name + " (check only)", steps, example_reps, measure(file, false, example_reps));
            all_ok = all_ok && t.ok;
            if (!t.ok) continue;
            if (file.stem() == "birds") typical = t;
            if (t.median_ms > slowest_example_ms) {
                slowest_example_ms = t.median_ms;
                slowest_example = file.stem().string();
            }
        }
    }

    // (b) generated files
    char pattern[] = "/tmp/amlflow-bench-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    if (made == nullptr) {
        std::perror("bench_compiler: mkdtemp");
        return 1;
    }
    fs::path temp = made;
    std::vector<std::pair<int, Timing>> generated;
    using amlflow::compiler::Plan;
    const std::vector<std::pair<std::string, std::function<std::string(const Plan&)>>> renderers = {
        {"plan_to_text", [](const Plan& p) { return amlflow::compiler::plan_to_text(p); }},
        {"plan_to_json", [](const Plan& p) { return amlflow::compiler::plan_to_json(p).dump(2); }},
        {"plan_to_dot", [](const Plan& p) { return amlflow::compiler::plan_to_dot(p); }},
        {"plan_to_mermaid", [](const Plan& p) { return amlflow::compiler::plan_to_mermaid(p); }},
    };
    std::vector<std::vector<std::pair<int, Timing>>> rendered(renderers.size());
    for (int n : sizes) {
        fs::path file = temp / ("gen" + std::to_string(n)) / "pipeline.amlflow";
        generate(n, file, reverse);
        int r = reps > 0 ? reps : default_reps(n);
        std::string name = (reverse ? "reversed " : "generated ") + std::to_string(n) + " steps";
        Timing t = measure(file, true, r);
        print_row(name, n, r, t);
        if (check_only) {
            print_row(name + " (check only)", n, r, measure(file, false, r));
            print_row(name + " (parse only)", n, r, measure_parse(file, r));
        }
        all_ok = all_ok && t.ok;
        if (!t.ok) continue;
        generated.emplace_back(n, t);
        if (!render) continue;
        CompileOptions options;
        auto result = compile_file(file.string(), options);
        if (!result->plan) continue;
        for (size_t k = 0; k < renderers.size(); ++k) {
            Timing rt = measure_render(*result->plan, r, renderers[k].second);
            print_row("  render " + renderers[k].first + " " + std::to_string(n), n, r, rt);
            rendered[k].emplace_back(n, rt);
        }
    }
    // Peak memory against the file's size (DESIGN §6: at most 10x), median of 3 children.
    std::vector<MemoryRow> memory;
    for (int n : memory_sizes) {
        fs::path file = temp / ("mem" + std::to_string(n)) / "pipeline.amlflow";
        generate(n, file, reverse);
        memory.push_back(measure_memory(fs::read_symlink("/proc/self/exe").string(), file, n, 3));
        print_memory(memory.back(), fs::file_size(file) > kLoaderLimit);
        fs::remove_all(file.parent_path());
        all_ok = all_ok && memory.back().median_kb >= 0;
    }
    if (keep) std::printf("generated files kept in %s\n", temp.string().c_str());
    else fs::remove_all(temp);

    // Growth and targets.
    auto growth = [](const std::string& what, const std::vector<std::pair<int, Timing>>& rows) {
        if (rows.size() < 2) return;
        const auto& [n0, t0] = rows.front();
        const auto& [n1, t1] = rows.back();
        double med = (t1.median_ms / n1) / (t0.median_ms / n0);
        double min = (t1.min_ms / n1) / (t0.min_ms / n0);
        std::printf("growth: %s: per-step time at %d vs %d steps: %.2f (median), %.2f (min); linear is about 1.0\n",
                    what.c_str(), n1, n0, med, min);
    };
    growth("check + plan", generated);
    for (size_t k = 0; k < renderers.size(); ++k) growth("render " + renderers[k].first, rendered[k]);
    if (typical) {
        std::printf("target: typical file (birds.amlflow) <= 10 ms: median %.3f ms, min %.3f ms -> %s\n",
                    typical->median_ms, typical->min_ms, typical->median_ms <= 10 ? "met" : "NOT met");
    }
    if (!slowest_example.empty()) {
        std::printf("target: slowest example (%s) <= 10 ms: median %.3f ms -> %s\n", slowest_example.c_str(),
                    slowest_example_ms, slowest_example_ms <= 10 ? "met" : "NOT met");
    }
    for (const auto& [n, t] : generated) {
        if (n != 10000) continue;
        std::printf("target: 10,000 steps <= 0.5 s: median %.3f s, min %.3f s -> %s\n", t.median_ms / 1000,
                    t.min_ms / 1000, t.median_ms <= 500 ? "met" : "NOT met");
    }
    for (const MemoryRow& row : memory) {
        if (row.median_kb < 0) continue;
        double ratio = row.median_kb * 1024.0 / row.file_bytes;
        std::printf("target: memory of %d steps <= 10x the file: %.1fx -> %s\n", row.steps, ratio,
                    ratio <= 10 ? "met" : "NOT met");
    }
    if (!all_ok) {
        std::printf("some files did not compile cleanly: their figures are missing (see ERROR rows)\n");
        return 1;
    }
    return 0;
}
