// amlflow: check, plan (and, as the runtime lands, run) .amlflow pipelines.
#include <iostream>
#include <map>

#include <mimalloc.h>

#include "cli/commands.h"

int main(int argc, char** argv) {
    // Memory mimalloc frees goes back to the system at once, not after its default delay:
    // a large plan frees each phase's memory as it goes (the syntax trees while steps are
    // checked, the values while the plan is built), and the delay kept about 6 MiB of it
    // at the peak of a 10,000-step plan (tests/bench/README.md).
    mi_option_set(mi_option_decommit_delay, 0);
    CLI::App app{"amlflow: a language and interpreter for machine-learning training pipelines"};
    app.name("amlflow");
    app.set_version_flag("--version", std::string("amlflow ") + AMLFLOW_VERSION);
    app.require_subcommand(1);
    std::map<CLI::App*, amlflow::cli::Runner> runners;
    auto add = [&](amlflow::cli::Runner (*make)(CLI::App&)) {
        size_t before = app.get_subcommands({}).size();
        amlflow::cli::Runner runner = make(app);
        runners[app.get_subcommands({})[before]] = std::move(runner);
    };
    add(amlflow::cli::add_check_command);
    add(amlflow::cli::add_fmt_command);
    add(amlflow::cli::add_plan_command);
    add(amlflow::cli::add_run_command);
    add(amlflow::cli::add_runs_command);
    add(amlflow::cli::add_logs_command);
    add(amlflow::cli::add_metrics_command);
    add(amlflow::cli::add_models_command);
    add(amlflow::cli::add_lsp_command);
    add(amlflow::cli::add_report_command);
    add(amlflow::cli::add_gpus_command);
    add(amlflow::cli::add_cancel_command);
    add(amlflow::cli::add_gc_command);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 64;
    }
    for (auto& [command, runner] : runners) {
        if (command->parsed()) return runner();
    }
    return 64;
}
