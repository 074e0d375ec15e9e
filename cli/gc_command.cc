// `amlflow runs rm ID...` and `amlflow gc [--keep N] [--older-than AGE]`: free old runs'
// folders. What a kept run still reads (a cached step's outputs in the run that made them)
// stays, and each cache key is handed on or said to be dropped (run_removal.h).
// `amlflow gc --workspace [FILE]` cleans an Azure ML workspace instead (workspace_gc_command.cc).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/store_option.h"
#include "runtime/store/run_removal.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
using namespace amlflow::runtime;

namespace {

std::string human_bytes(std::uintmax_t bytes) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1000 && unit < 4) {
        value /= 1000;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
    return text;
}

std::string shown(const fs::path& path, const fs::path& store) {
    fs::path relative = path.lexically_relative(store);
    return relative.empty() || *relative.begin() == ".." ? path.string() : relative.string();
}

void print_plan(const RemovalPlan& plan, const fs::path& store, bool dry_run) {
    if (plan.runs.empty() && plan.deleted.empty()) {
        std::cout << "nothing to remove\n";
        return;
    }
    for (const std::string& run : plan.runs) std::cout << (dry_run ? "would remove run " : "removed run ") << run << "\n";
    for (const KeptFolder& kept : plan.kept) {
        std::cout << (dry_run ? "would keep " : "kept ") << shown(kept.path, store) << ": step '" << kept.step
                  << "' of run " << kept.run << " uses it\n";
    }
    for (const CacheEntry& moved : plan.moved) {
        std::cout << "cache: step '" << moved.step << "' stays cached, through run " << moved.run_id << "\n";
    }
    for (const CacheEntry& dropped : plan.dropped) {
        std::cout << "cache: step '" << dropped.step << "' of run " << dropped.run_id
                  << (dry_run ? " would no longer be" : " is no longer") << " cached (it runs again next time)\n";
    }
    std::cout << (dry_run ? "would free " : "freed ") << human_bytes(plan.bytes) << "\n";
}

// Removes (or, dry, plans the removal of) runs of an open store; 1 when one is live.
int remove(RunStore& store, const std::vector<std::string>& runs, bool dry_run) {
    std::string error;
    auto plan = dry_run ? plan_removal(store, runs, &error) : remove_runs(store, runs, &error);
    if (!plan) {
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    print_plan(*plan, store.folder(), dry_run);
    for (const std::string& warning : plan->warnings) std::cerr << "amlflow: warning: " << warning << "\n";
    return 0;
}

// "7d", "12h", "30m", "45s", "2w" as milliseconds; nullopt for anything else.
std::optional<int64_t> parse_age(const std::string& text) {
    std::size_t used = 0;
    long long count = 0;
    try {
        count = std::stoll(text, &used);
    } catch (...) {
        return std::nullopt;
    }
    if (count < 0 || used + 1 != text.size()) return std::nullopt;
    switch (text.back()) {
        case 's': return count * 1000;
        case 'm': return count * 60 * 1000;
        case 'h': return count * 3600 * 1000;
        case 'd': return count * 86400 * 1000;
        case 'w': return count * 7 * 86400 * 1000;
    }
    return std::nullopt;
}

struct GcArgs {
    StoreOption where;
    int keep = -1;
    std::string older_than;
    bool dry_run = false;
    CLI::Option* workspace = nullptr;
    std::string workspace_file;
};

int gc(const GcArgs& args) {
    if (args.workspace->count() > 0) {
        if (args.keep >= 0 || !args.older_than.empty()) {
            std::cerr << "amlflow: error: --workspace cleans an Azure ML workspace; --keep and --older-than are for "
                         "this machine's runs (run them as a separate gc)\n";
            return 64;
        }
        return workspace_gc_command(args.workspace_file, args.dry_run);
    }
    std::optional<int64_t> age;
    if (!args.older_than.empty() && !(age = parse_age(args.older_than))) {
        std::cerr << "amlflow: error: --older-than '" << args.older_than
                  << "': expected a whole number and a unit (s, m, h, d, w), e.g. 7d\n";
        return 64;
    }
    if (args.keep < 0 && !age) {
        std::cerr << "amlflow: error: gc needs --keep N (keep the N newest runs) or --older-than AGE (e.g. 7d)\n";
        return 64;
    }
    auto store = args.where.open();
    if (!store) return 1;
    auto runs = store->list_runs(0);  // newest first
    if (!runs) {
        std::cerr << "amlflow: error: " << store->last_error() << "\n";
        return 1;
    }
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    std::vector<std::string> chosen;
    for (std::size_t i = 0; i < runs->size(); ++i) {
        const RunRecord& run = (*runs)[i];
        bool beyond_keep = args.keep < 0 || i >= static_cast<std::size_t>(args.keep);
        bool old = !age || run.created_ms < now - *age;
        // Still running after the store was settled on opening: its interpreter lives.
        if (beyond_keep && old && run.state != RunState::Running) chosen.push_back(run.id);
    }
    return remove(*store, chosen, args.dry_run);
}

}  // namespace

int remove_runs_command(const StoreOption& where, const std::vector<std::string>& ids, bool dry_run) {
    auto store = where.open();
    if (!store) return 1;
    std::vector<std::string> runs;
    for (const std::string& id : ids) {
        auto run = StoreOption::find_run(*store, id);
        if (!run) return 1;
        // Still running once the store was settled on opening: its amlflow lives.
        if (run->state == RunState::Running) {
            std::cerr << "amlflow: error: run '" << run->id << "' is running; stop it first (amlflow cancel "
                      << run->id << ")\n";
            return 1;
        }
        if (std::find(runs.begin(), runs.end(), run->id) == runs.end()) runs.push_back(run->id);
    }
    return remove(*store, runs, dry_run);
}

Runner add_gc_command(CLI::App& app) {
    auto args = std::make_shared<GcArgs>();
    CLI::App* command = app.add_subcommand("gc", "Remove old runs and free their folders, keeping what kept runs use "
                                                 "(--workspace: what amlflow made in an Azure ML workspace)");
    command->add_option("--keep", args->keep, "Keep the N newest runs");
    command->add_option("--older-than", args->older_than, "Remove only runs started longer ago than this (7d, 12h)");
    command->add_flag("--dry-run", args->dry_run, "Say what would be removed and kept; remove nothing");
    args->workspace = command->add_option("--workspace", args->workspace_file,
                                          "Clean the Azure ML workspace of FILE (a .amlflow file or a config.json; "
                                          "default: the config.json found here): what amlflow created there and "
                                          "nothing uses (idle clusters, environment and code versions)")
                          ->expected(0, 1);
    args->where.add_to(command);
    return [args]() { return gc(*args); };
}

}  // namespace amlflow::cli
