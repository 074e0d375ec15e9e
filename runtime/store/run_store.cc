// Opening the store, run records, and the artifact layout. Steps, attempts and ranks
// are in run_store_steps.cc; metrics and cache keys in run_store_metrics.cc.
#include "runtime/store/run_store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>

#include "runtime/store/run_store_schema.h"
#include "runtime/store/sqlite_handle.h"

#ifndef AMLFLOW_VERSION
#define AMLFLOW_VERSION "unknown"
#endif

namespace amlflow::runtime {
namespace fs = std::filesystem;
namespace {

constexpr const char* kRunStates[] = {"running", "succeeded", "failed", "canceled", "interrupted", "detached"};
// "canceled": a person stopped it (Ctrl-C); "stopped early": a sweep's early-stop policy did.
constexpr const char* kStepStates[] = {"pending",  "running", "succeeded", "failed",
                                       "canceled", "skipped", "cached",    "stopped early"};
constexpr const char* kAttemptStates[] = {"running", "succeeded", "failed", "canceled", "stopped early"};

template <typename State, size_t N>
std::optional<State> parse_state(std::string_view text, const char* const (&names)[N]) {
    for (size_t i = 0; i < N; ++i) {
        if (text == names[i]) return static_cast<State>(i);
    }
    return std::nullopt;
}

// 16 random bits. random_device reads the kernel's generator, so two processes forked
// from one parent in the same second still draw different suffixes.
unsigned random_suffix() {
    try {
        return std::random_device()() & 0xffffu;
    } catch (...) {
        auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
        return static_cast<unsigned>(ticks ^ (static_cast<long long>(getpid()) << 7)) & 0xffffu;
    }
}

// UTC so that ids sort by time across time zones and daylight-saving changes.
std::string make_run_id(int64_t ms) {
    time_t seconds = static_cast<time_t>(ms / 1000);
    struct tm utc {};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
    char id[48];
    snprintf(id, sizeof id, "%s-%04x", stamp, random_suffix());
    return id;
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

}  // namespace

const char* to_string(RunState state) { return kRunStates[static_cast<int>(state)]; }
const char* to_string(StepState state) { return kStepStates[static_cast<int>(state)]; }
const char* to_string(AttemptState state) { return kAttemptStates[static_cast<int>(state)]; }
std::optional<RunState> parse_run_state(std::string_view text) {
    return parse_state<RunState>(text, kRunStates);
}
std::optional<StepState> parse_step_state(std::string_view text) {
    return parse_state<StepState>(text, kStepStates);
}
std::optional<AttemptState> parse_attempt_state(std::string_view text) {
    return parse_state<AttemptState>(text, kAttemptStates);
}

std::unique_ptr<RunStore> RunStore::open(const fs::path& folder, std::string* error, OpenMode mode) {
    std::string ignored;
    if (!error) error = &ignored;
    std::error_code ec;
    fs::path root = fs::absolute(folder, ec).lexically_normal();
    if (!root.has_filename()) root = root.parent_path();  // "/x/.amlflow/" -> "/x/.amlflow"
    if (ec) {
        *error = "cannot locate the run store " + quoted(folder.string()) + ": " + ec.message();
        return nullptr;
    }
    fs::path file = root / "store.db";
    if (mode == OpenMode::MustExist) {
        if (!fs::exists(file, ec)) {
            *error = "no run store at " + quoted(root.string());
            return nullptr;
        }
    } else if (fs::create_directories(root, ec); ec) {
        *error = "cannot create the run store folder " + quoted(root.string()) + ": " + ec.message();
        return nullptr;
    }
    std::string why;
    auto db = sqlite::Connection::open(file, mode == OpenMode::CreateIfMissing, &why);
    if (!db || !prepare_store_database(*db, &why)) {
        *error = "cannot open the run store " + quoted(file.string()) + ": " + why;
        return nullptr;
    }
    return std::unique_ptr<RunStore>(new RunStore(std::move(db), root));
}

RunStore::RunStore(std::unique_ptr<sqlite::Connection> db, fs::path root)
    : db_(std::move(db)), root_(std::move(root)) {}

RunStore::~RunStore() = default;

bool RunStore::fail(const std::string& message) {
    last_error_ = message;
    return false;
}

bool RunStore::fail(const std::string& what, const std::string& reason) {
    return fail(what + ": " + reason);
}

int64_t RunStore::now_ms() {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    last_ms_ = std::max<int64_t>(last_ms_, now);
    return last_ms_;
}

// --- runs ------------------------------------------------------------------------------

std::optional<std::string> RunStore::create_run(const NewRun& run, std::optional<RunLock>* lock) {
    const std::string what = "cannot record a run of " + quoted(run.file);
    sqlite::Transaction transaction(*db_);
    if (!transaction.ok()) {
        fail(what, transaction.error());
        return {};
    }
    int64_t created = now_ms();
    std::string id;
    // A clash needs two runs in one second drawing the same 16 bits: retry with new bits.
    for (int tries = 0;; ++tries) {
        id = make_run_id(created);
        sqlite::Query insert = db_->query(
            "INSERT INTO run (id, file, plan_hash, plan_json, params_json, state, created_ms,"
            " version, supervisor_pid, options_json) VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8, ?9)");
        insert.bind(1, id).bind(2, run.file).bind(3, run.plan_hash).bind(4, run.plan_json);
        insert.bind(5, run.params_json).bind(6, created);
        insert.bind(7, run.version.empty() ? std::string(AMLFLOW_VERSION) : run.version);
        insert.bind(8, static_cast<int64_t>(getpid()));
        insert.bind(9, run.options_json.empty() ? std::string("{}") : run.options_json);
        if (insert.run()) break;
        bool clash = insert.rc() == SQLITE_CONSTRAINT_PRIMARYKEY;
        if (!clash || tries == 16) {
            fail(what, insert.error());
            return {};
        }
    }
    for (size_t i = 0; i < run.sets.size(); ++i) {
        sqlite::Query insert =
            db_->query("INSERT INTO run_set (run_id, position, arg) VALUES (?1, ?2, ?3)");
        insert.bind(1, id).bind(2, static_cast<int64_t>(i)).bind(3, run.sets[i]);
        if (!insert.run()) {
            fail(what, insert.error());
            return {};
        }
    }
    if (lock) {
        // Inside the transaction: the record appears only once its lock is held.
        fs::path folder = run_folder(id);
        std::string why;
        if (folder.empty() || !(*lock = RunLock::acquire(folder, &why))) {
            fail(what, folder.empty() ? last_error_ : why);
            return {};
        }
    }
    if (!transaction.commit()) {
        fail(what, transaction.error());
        if (lock) lock->reset();
        return {};
    }
    return id;
}

bool RunStore::set_run_state(const std::string& run, RunState state, int exit_code) {
    sqlite::FullSyncScope durable(*db_, state != RunState::Running);
    return update_run_state(run, state, exit_code);
}

bool RunStore::update_run_state(const std::string& run, RunState state, int exit_code) {
    const std::string what = "cannot record run " + quoted(run) + " as " + to_string(state);
    bool finished = state != RunState::Running;
    sqlite::Query update = db_->query(
        "UPDATE run SET state = ?2, finished_ms = ?3, exit_code = ?4,"
        " supervisor_pid = coalesce(?5, supervisor_pid) WHERE id = ?1");
    update.bind(1, run).bind(2, to_string(state));
    if (finished) {
        update.bind(3, now_ms()).bind_or_null(4, exit_code, -1);
    } else {
        update.bind(5, static_cast<int64_t>(getpid()));  // finished_ms, exit_code: NULL
    }
    if (!update.run()) return fail(what, update.error());
    if (db_->changes() == 0) return fail(what, "no such run");
    return true;
}

bool RunStore::set_run_options(const std::string& run, const std::string& options_json) {
    const std::string what = "cannot record the options of run " + quoted(run);
    sqlite::Query update = db_->query("UPDATE run SET options_json = ?2 WHERE id = ?1");
    update.bind(1, run).bind(2, options_json.empty() ? std::string("{}") : options_json);
    if (!update.run()) return fail(what, update.error());
    if (db_->changes() == 0) return fail(what, "no such run");
    return true;
}

namespace {

// The same columns for a lookup (with the plan) and a listing (with '' in its place).
std::string run_select(const char* plan_column, const char* rest) {
    return std::string("SELECT id, file, plan_hash, ") + plan_column +
           ", params_json, state, created_ms, finished_ms, exit_code, version, supervisor_pid, remote_job,"
           " coalesce(options_json, '{}') FROM run " + rest;
}

RunRecord read_run(const sqlite::Query& row) {
    RunRecord record;
    record.id = row.text(0);
    record.file = row.text(1);
    record.plan_hash = row.text(2);
    record.plan_json = row.text(3);
    record.params_json = row.text(4);
    record.state = parse_run_state(row.text(5)).value_or(RunState::Failed);
    record.created_ms = row.integer(6);
    record.finished_ms = row.integer(7);
    record.exit_code = static_cast<int>(row.integer(8, -1));
    record.version = row.text(9);
    record.supervisor_pid = row.integer(10);
    record.remote_job = row.text(11);
    record.options_json = row.text(12);
    return record;
}

bool read_sets(sqlite::Connection& db, RunRecord* record, std::string* error) {
    sqlite::Query query = db.query("SELECT arg FROM run_set WHERE run_id = ?1 ORDER BY position");
    query.bind(1, record->id);
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) record->sets.push_back(query.text(0));
    if (rc != SQLITE_DONE) *error = query.error();
    return rc == SQLITE_DONE;
}

}  // namespace

std::optional<RunRecord> RunStore::find_run(const std::string& id_or_prefix) {
    const std::string what = "cannot look up run " + quoted(id_or_prefix);
    if (id_or_prefix.empty()) {
        fail("no run id given");
        return {};
    }
    std::vector<std::string> matches;
    {
        // A range rather than LIKE/GLOB: the prefix is user text and needs no escaping,
        // and the primary-key index answers it. 0xff never occurs in UTF-8 text.
        sqlite::Query query =
            db_->query("SELECT id FROM run WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 4");
        query.bind(1, id_or_prefix).bind(2, id_or_prefix + "\xff");
        int rc;
        while ((rc = query.step()) == SQLITE_ROW) matches.push_back(query.text(0));
        if (rc != SQLITE_DONE) {
            fail(what, query.error());
            return {};
        }
    }
    if (matches.empty()) {
        fail("no run matches " + quoted(id_or_prefix));
        return {};
    }
    if (matches.size() > 1 && matches.front() != id_or_prefix) {
        std::string list;
        for (size_t i = 0; i < matches.size() && i < 3; ++i) list += (i ? ", " : "") + matches[i];
        if (matches.size() > 3) list += ", ...";
        fail("run id prefix " + quoted(id_or_prefix) + " is ambiguous: it matches " + list);
        return {};
    }
    sqlite::Query query = db_->query(run_select("plan_json", "WHERE id = ?1"));
    query.bind(1, matches.front());
    if (query.step() != SQLITE_ROW) {
        fail(what, query.error());
        return {};
    }
    RunRecord record = read_run(query);
    std::string error;
    if (!read_sets(*db_, &record, &error)) {
        fail(what, error);
        return {};
    }
    return record;
}

std::optional<std::vector<RunRecord>> RunStore::list_runs(size_t limit) {
    const std::string what = "cannot list runs";
    std::vector<RunRecord> runs;
    {
        // rowid breaks ties within a millisecond by commit order.
        sqlite::Query query =
            db_->query(run_select("''", "ORDER BY created_ms DESC, rowid DESC LIMIT ?1"));
        query.bind(1, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit));
        int rc;
        while ((rc = query.step()) == SQLITE_ROW) runs.push_back(read_run(query));
        if (rc != SQLITE_DONE) {
            fail(what, query.error());
            return {};
        }
    }
    std::string error;
    for (RunRecord& run : runs) {
        if (!read_sets(*db_, &run, &error)) {
            fail(what, error);
            return {};
        }
    }
    return runs;
}

// --- artifact layout -------------------------------------------------------------------

namespace {

// Run ids and step names become folder names: one component each, never a way out of
// the store (DESIGN §6: paths cannot escape their folders).
bool is_folder_name(const std::string& name) {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

}  // namespace

fs::path RunStore::folder_under(const std::vector<std::string>& parts, bool create) {
    fs::path folder = root_ / "runs";
    for (const std::string& part : parts) {
        if (!is_folder_name(part)) {
            fail("cannot use " + quoted(part) + " as a folder name in the run store");
            return {};
        }
        folder /= part;
    }
    std::error_code ec;
    if (create && (fs::create_directories(folder, ec), ec)) {
        fail("cannot create " + quoted(folder.string()) + ": " + ec.message());
        return {};
    }
    return folder;
}

fs::path RunStore::run_folder(const std::string& run) { return folder_under({run}, true); }

fs::path RunStore::step_outputs(const std::string& run, const std::string& step) {
    return folder_under({run, step, "outputs"}, true);
}

fs::path RunStore::step_checkpoints(const std::string& run, const std::string& step) {
    return folder_under({run, step, "checkpoints"}, true);
}

fs::path RunStore::attempt_logs(const std::string& run, const std::string& step, int attempt) {
    return folder_under({run, step, "attempt-" + std::to_string(shown_attempt(attempt))}, true);
}

fs::path RunStore::rank_log(const std::string& run, const std::string& step, int attempt,
                            int global_rank) {
    fs::path folder = attempt_logs(run, step, attempt);
    if (folder.empty()) return folder;
    return folder / ("rank-" + std::to_string(global_rank) + ".log");
}

// Relative inside the store, so that a project folder can be moved or copied with its
// .amlflow and the records still point at its artifacts.
std::string RunStore::stored_path(const fs::path& path) const {
    if (path.empty()) return {};
    fs::path relative = path.lexically_normal().lexically_relative(root_);
    if (relative.empty() || *relative.begin() == "..") return path.string();
    return relative.generic_string();
}

fs::path RunStore::loaded_path(const std::string& text) const {
    if (text.empty()) return {};
    fs::path path(text);
    return path.is_absolute() ? path : root_ / path;
}

// --- upkeep ----------------------------------------------------------------------------

bool RunStore::check_integrity() {
    std::string findings;
    for (const char* pragma : {"PRAGMA integrity_check", "PRAGMA foreign_key_check"}) {
        sqlite::Query query = db_->query(pragma);
        int rc;
        while ((rc = query.step()) == SQLITE_ROW) {
            std::string row = query.text(0);
            if (row == "ok") continue;
            if (std::string(pragma).find("foreign") != std::string::npos) {
                row = "table " + row + " row " + query.text(1) + " has no parent in " + query.text(2);
            }
            findings += (findings.empty() ? "" : "; ") + row;
        }
        if (rc != SQLITE_DONE) return fail("cannot check the run store", query.error());
    }
    if (!findings.empty()) return fail("the run store is damaged: " + findings);
    return true;
}

fs::path default_store_folder(const fs::path& pipeline_file) {
    std::error_code ec;
    const char* home = std::getenv("AMLFLOW_HOME");
    if (home && *home) {
        fs::path folder = fs::absolute(home, ec);
        return ec ? fs::path(home) : folder.lexically_normal();
    }
    fs::path file = fs::absolute(pipeline_file, ec);
    if (ec) file = pipeline_file;
    return (file.lexically_normal().parent_path() / ".amlflow");
}

}  // namespace amlflow::runtime
