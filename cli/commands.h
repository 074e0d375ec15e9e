// The amlflow subcommands. Each registers itself on the CLI11 app and returns the
// process exit code: 0 success, 1 the file is wrong, 2 a step failed, 3 the run is busy
// (another amlflow is running it), 130 interrupted, 64 the command line itself is wrong.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "compiler/checker.h"

namespace amlflow::cli {

using Runner = std::function<int()>;

// `amlflow run --resume` of a run that another amlflow still runs: a distinct code, so a
// script can wait and retry rather than read it as a wrong file.
constexpr int kExitRunBusy = 3;

// Each returns the function that runs the command once the command line is parsed.
Runner add_check_command(CLI::App& app);
Runner add_fmt_command(CLI::App& app);
Runner add_plan_command(CLI::App& app);
Runner add_run_command(CLI::App& app);
Runner add_runs_command(CLI::App& app);
Runner add_logs_command(CLI::App& app);
Runner add_metrics_command(CLI::App& app);
Runner add_models_command(CLI::App& app);
Runner add_lsp_command(CLI::App& app);
Runner add_report_command(CLI::App& app);
Runner add_gpus_command(CLI::App& app);
Runner add_cancel_command(CLI::App& app);
Runner add_gc_command(CLI::App& app);

struct StoreOption;
// `amlflow runs rm ID...` (gc_command.cc).
int remove_runs_command(const StoreOption& where, const std::vector<std::string>& ids, bool dry_run);

// `amlflow gc --workspace [FILE]` (workspace_gc_command.cc).
int workspace_gc_command(const std::string& file, bool dry_run);

// Whether diagnostics written to stderr may use colour: a terminal and no NO_COLOR.
bool use_color_on_stderr();

// This machine's CPU cores and GPUs, as `run` would use them: what `check`, `plan` and
// `run` check a local compute against when it leaves its slots to the machine.
compiler::MachineShape this_machine();

}  // namespace amlflow::cli
