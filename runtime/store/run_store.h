// The run store: the record of every run, step, attempt and rank, kept in a SQLite
// database (`store.db`) beside the artifact folders those runs wrote. It is what
// `amlflow runs` lists, what `--resume` continues from, and where cached results are
// found, so it has to survive the interpreter being killed at any instant.
//
// Durability: the database is in WAL mode with synchronous=NORMAL, and every state
// change is one short transaction. A committed record survives a SIGKILL of the writer
// at any moment (the WAL is in the OS's hands once COMMIT returns) and the file always
// passes integrity_check. The commits that mark a step succeeded or a run finished are
// made with synchronous=FULL, so they also survive power loss: those are the records
// whose loss would redo real work (a run's last step and its end can share one such commit:
// finish_run_with_step). Everything else (attempts, ranks, metrics, cached steps) can be
// rebuilt or re-derived, and an fsync each would cost more than it saves.
//
// Concurrency: readers (`amlflow runs list`) never block a writer or each other under
// WAL; writers wait up to five seconds (busy_timeout) for one another. One RunStore is
// one connection: use it from one thread at a time, and open a new one after fork().
//
// Errors: nothing here throws or aborts on a SQLite or filesystem failure. Calls that
// change the store return bool; calls that return something return std::optional (or
// an empty path). On false / nullopt / empty, last_error() holds one lowercase sentence
// naming what failed and why ("cannot record step 'train' of run '...': database is
// locked"); a lookup that finds nothing counts as such a failure, with the reason
// ("no run matches 'abc'"). last_error() is only meaningful right after a failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/environment_stamp.h"
#include "runtime/store/run_lock.h"

namespace amlflow::runtime {

namespace sqlite {
class Connection;
}

// Interrupted: its interpreter died (SIGKILL, a reboot) while it ran; Detached: the same,
// for a run whose work lives on a remote service and goes on there (DESIGN §5).
enum class RunState { Running, Succeeded, Failed, Canceled, Interrupted, Detached };
// Canceled: a person stopped it (Ctrl-C, a second signal, `amlflow cancel`). StoppedEarly
// ("stopped early"): a sweep's early-stop policy ended a trial that was running worse than
// the others.
enum class StepState { Pending, Running, Succeeded, Failed, Canceled, Skipped, Cached, StoppedEarly };
enum class AttemptState { Running, Succeeded, Failed, Canceled, StoppedEarly };

// The lowercase names stored in the database and shown to users ("running", "cached",
// "stopped early").
const char* to_string(RunState state);
const char* to_string(StepState state);
const char* to_string(AttemptState state);
std::optional<RunState> parse_run_state(std::string_view text);
std::optional<StepState> parse_step_state(std::string_view text);
std::optional<AttemptState> parse_attempt_state(std::string_view text);

// Records carry their whole key (run id, step name, attempt number), so that a record
// read back can be handed on without its parents. Times are unix milliseconds; 0 means
// "not yet". Paths inside the store are kept relative to it and come back absolute.

struct NewRun {
    std::string file;                // the pipeline file
    std::string plan_hash;           // sha256 hex of plan_json
    std::string plan_json;           // the whole plan, as the compiler wrote it
    std::string params_json = "{}";  // final parameter values
    std::vector<std::string> sets;   // the --set arguments, in command-line order
    std::string version;             // amlflow's version; empty: this build's
    // How it was asked to run, as `--resume` must run it again: {"force": true,
    // "force_steps": ["train"]}. The executor's to write and read; "{}" when none.
    std::string options_json = "{}";
};

struct RunRecord {
    std::string id;  // "20261122-031500-a1b2": UTC second, then 4 random hex digits
    std::string file, plan_hash, plan_json, params_json, version;
    std::string options_json = "{}";  // see NewRun
    std::vector<std::string> sets;
    RunState state = RunState::Running;
    int64_t created_ms = 0, finished_ms = 0;
    int exit_code = -1;  // the interpreter's exit code; -1 while running
    int64_t supervisor_pid = 0;  // the interpreter that runs (or last ran) it; 0: unknown
    std::string remote_job;      // the remote service's job, for a run whose work lives there
};

struct StepRecord {
    std::string run_id, name, kind, hash;
    StepState state = StepState::Pending;
    int64_t started_ms = 0, finished_ms = 0;
    int attempts = 0;         // attempts begun, counted from the attempt records
    std::string cached_from;  // the run whose result was reused, when state is Cached
    std::filesystem::path outputs;
    std::string result_json;  // what the step produced beyond outputs (sweep: best trial); may be empty
};

struct AttemptRecord {
    std::string run_id, step;
    // 0-based, as TORCHELASTIC_RESTART_COUNT counts restarts; a person sees it from 1
    // ("attempt 1", the folder attempt-1): shown_attempt().
    int number = 0;
    AttemptState state = AttemptState::Running;
    int64_t started_ms = 0, finished_ms = 0;
    int master_port = 0;
    // JSON written by the executor when the attempt fails: root-cause rank, exit code or
    // signal, reason (exit|signal|timeout|hang|canceled), log tail. Empty otherwise.
    std::string failure_json;
    std::filesystem::path logs;  // the attempt's log folder (rank-<r>.log inside)
};

struct RankRecord {
    std::string run_id, step;
    int attempt = 0;
    int global_rank = 0, local_rank = 0, node_rank = 0;
    int64_t pid = 0;
    int64_t started_ms = 0, finished_ms = 0;  // add_rank: started 0 means now
    int exit_code = -1;                       // -1: still running or killed by a signal
    int signal = 0;                           // 0: not killed by a signal
    std::filesystem::path log_file;           // add_rank: empty means rank_log()'s path
    std::string host;                         // where it ran ("" this machine); pid is there
};

struct MetricRecord {
    std::string run_id, step;
    int attempt = 0, rank = 0;
    std::string name;
    double value = 0;          // NaN is kept (a diverged loss is worth recording)
    int64_t step_index = -1;   // the script's training step; -1 when not given
    int64_t time_ms = 0;       // 0 on add: now
};

// A version of a registered model: a content-addressed copy in the registry, and where
// it came from (the run, the register step, the step and attempt that produced it, that
// step's metrics when it was registered).
struct NewModel {
    std::string name;
    std::string hash;                // sha256 of the content (file, or folder digest)
    std::filesystem::path path;      // the copy in the registry
    int64_t bytes = 0;
    std::string run_id, step;        // the register step
    std::string source_step;         // the step whose outputs held it
    int source_attempt = 0;
    std::string description;
    std::string tags_json = "{}", metrics_json = "{}";
    // The same version in a remote registry (an Azure ML workspace: workspace, name,
    // version, id, uri, type), or "" when it lives only here.
    std::string workspace_json;
};

struct ModelRecord : NewModel {
    int version = 0;
    int64_t created_ms = 0;
    bool existing = false;  // add_model: this content was already registered under the name
};

struct CacheEntry {
    std::string hash, run_id, step;
    int64_t created_ms = 0;
};

enum class OpenMode { CreateIfMissing, MustExist };

class RunStore {
public:
    // PRAGMA user_version of the schema this build writes. A store with a newer version
    // is refused rather than misread.
    static constexpr int kSchemaVersion = 7;

    // Opens the store in `folder` (creating the folder, store.db and its schema unless
    // MustExist). Returns nullptr and sets *error (which may be null) on failure.
    static std::unique_ptr<RunStore> open(const std::filesystem::path& folder, std::string* error,
                                          OpenMode mode = OpenMode::CreateIfMissing);
    ~RunStore();
    RunStore(const RunStore&) = delete;
    RunStore& operator=(const RunStore&) = delete;

    const std::filesystem::path& folder() const { return root_; }
    const std::string& last_error() const { return last_error_; }

    // --- runs ---------------------------------------------------------------------------
    // Records a new run in state Running, with this process as its supervisor; returns its
    // id. With `lock`, the run's folder is created and its RunLock taken (into *lock)
    // before the record is committed, so that no other process ever sees the run running
    // and unlocked (which would read as an interpreter that died: run_liveness.h).
    std::optional<std::string> create_run(const NewRun& run, std::optional<RunLock>* lock = nullptr);
    // Running clears finished_ms and the exit code (a resumed run) and records this process
    // as the supervisor; the other states set them. A finished run is committed with
    // synchronous=FULL.
    bool set_run_state(const std::string& run, RunState state, int exit_code = -1);
    // The run's last step reaching `step_state` and the run ending, in one commit with
    // synchronous=FULL: what set_step_state then set_run_state record, with one fsync
    // instead of two at the end of every run.
    bool finish_run_with_step(const std::string& run, const std::string& step, StepState step_state,
                              RunState state, int exit_code);
    // Syncs the WAL now, once per RunStore: SQLite syncs the WAL's folder along with the
    // first sync of the WAL in a process, so a caller with time to spare (the ranks just
    // started) takes that fsync off the commit that later ends a step. Best effort.
    void sync_ahead();
    // A run whose work lives on a remote service names the service's job here; when its
    // interpreter dies the run is then detached, not interrupted.
    bool set_remote_job(const std::string& run, const std::string& job);
    // By whole id or by a prefix that matches exactly one run, as git does.
    std::optional<RunRecord> find_run(const std::string& id_or_prefix);
    // Replaces the options a run was started with (a resume adds its own).
    bool set_run_options(const std::string& run, const std::string& options_json);
    // Newest first, at most `limit` (0: all). plan_json is left empty: it can be large and no
    // listing shows it; find_run fills it.
    std::optional<std::vector<RunRecord>> list_runs(size_t limit);

    // --- runs whose interpreter is gone (run_store_lifecycle.cc) --------------------------
    // The ids of the runs recorded as running.
    std::optional<std::vector<std::string>> running_runs();
    // For a run whose lock the caller holds, so that its interpreter is known to be gone:
    // a run still recorded as running becomes Interrupted (Detached with a remote job), and
    // its unfinished steps and attempts end as Ctrl-C ends them (canceled, reason
    // "interrupted"). Returns the state the run has afterwards.
    std::optional<RunState> record_abandoned(const std::string& run);
    // The cache keys answered by a run's steps.
    std::optional<std::vector<CacheEntry>> cache_keys_of(const std::string& run);
    // Deletes runs and every record that hangs off them, in one transaction, after pointing
    // each (hash -> run, step) of `moves` at that step (a kept step that answers it too).
    bool delete_runs(const std::vector<std::string>& runs, const std::vector<CacheEntry>& moves);

    // --- steps --------------------------------------------------------------------------
    // Adds a Pending step; its outputs folder is step_outputs() (not created here).
    bool add_step(const std::string& run, const std::string& step, const std::string& kind,
                  const std::string& hash);
    // Running sets started_ms (once); a final state sets finished_ms, Pending and Running
    // clear it. cached_from is kept only with Cached. Succeeded is committed with FULL.
    // `finished_ms` (0: now) is when a final state was reached, when that was elsewhere (a
    // detached run's job on Azure ML, learned later).
    bool set_step_state(const std::string& run, const std::string& step, StepState state,
                        const std::string& cached_from = "", int64_t finished_ms = 0);
    // In the order they were added.
    std::optional<std::vector<StepRecord>> steps_of(const std::string& run);
    // A cached step answers from another run's folder: its outputs point there.
    bool set_step_outputs(const std::string& run, const std::string& step,
                          const std::filesystem::path& outputs);
    bool set_step_result(const std::string& run, const std::string& step, const std::string& result_json);
    // Back to Pending with no finish time: `--resume` runs it again (attempts are kept).
    bool reset_step(const std::string& run, const std::string& step);

    // --- attempts and ranks -------------------------------------------------------------
    // Starts the next attempt (0, 1, ...) of a step, in state Running, with its log folder
    // created, and puts the step in Running too. Returns the attempt's number.
    std::optional<int> begin_attempt(const std::string& run, const std::string& step,
                                     int master_port);
    // Leaves the step's state alone: whether to retry is the executor's call.
    // The rendezvous port the attempt's ranks got where it differs from the one asked for
    // (taken on the host where they meet).
    bool set_attempt_port(const std::string& run, const std::string& step, int attempt, int master_port);
    bool finish_attempt(const std::string& run, const std::string& step, int attempt,
                        AttemptState state, const std::string& failure_json = "", int64_t finished_ms = 0);
    std::optional<std::vector<AttemptRecord>> attempts_of(const std::string& run,
                                                          const std::string& step);
    bool add_rank(const RankRecord& rank);
    // exit_code -1 with a signal number for a rank killed by a signal; finished 0: now.
    bool finish_rank(const std::string& run, const std::string& step, int attempt,
                     int global_rank, int exit_code, int signal, int64_t finished_ms = 0);
    // Ordered by global rank.
    std::optional<std::vector<RankRecord>> ranks_of(const std::string& run,
                                                    const std::string& step, int attempt);

    // --- metrics and cache keys ---------------------------------------------------------
    bool add_metric(const MetricRecord& metric);
    // One transaction for the whole batch: a log relay flushes what it has read.
    bool add_metrics(const std::vector<MetricRecord>& metrics);
    // A step's metrics in the order they were recorded; all names when `name` is empty.
    std::optional<std::vector<MetricRecord>> metrics_of(const std::string& run,
                                                        const std::string& step,
                                                        const std::string& name = "");
    // Params a script logged (amlflow.log_params): name -> JSON value; a later value replaces.
    bool add_params(const std::string& run, const std::string& step, int attempt, int rank,
                    const std::vector<std::pair<std::string, std::string>>& params);
    // name -> JSON value, the last attempt's rank 0 winning over earlier ones.
    std::optional<std::vector<std::pair<std::string, std::string>>> params_of(const std::string& run,
                                                                                const std::string& step);
    // Records that `hash` is answered by this step's outputs; a later record replaces it.
    bool put_cache_key(const std::string& hash, const std::string& run, const std::string& step);
    std::optional<CacheEntry> find_cache_key(const std::string& hash);

    // --- verified environments (run_store_environments.cc) -------------------------------
    // The stamp recorded for the question `key` asks (its python, requirements_json and
    // variables_json); nullopt when there is none (or it cannot be read: last_error()).
    // Whether it still holds is stamp_holds()'s to say.
    std::optional<EnvironmentStamp> find_environment_stamp(const EnvironmentStamp& key);
    // Records the stamp, replacing any earlier answer to the same question.
    bool put_environment_stamp(const EnvironmentStamp& stamp);

    // --- model registry (run_store_models.cc) ---------------------------------------------
    // A new version (1, 2, ...) of `model.name`, or, when the same content is already
    // registered under that name, that version with `existing` set: registering twice
    // creates nothing (but a `workspace_json` given is recorded on the existing version).
    std::optional<ModelRecord> add_model(const NewModel& model);
    // version 0: the latest.
    std::optional<ModelRecord> find_model(const std::string& name, int version = 0);
    // Every version of every model (or of `name`), by name then version.
    std::optional<std::vector<ModelRecord>> list_models(const std::string& name = "");
    std::filesystem::path registry_folder();  // <store>/registry, created

    // --- artifact layout, folders created on demand --------------------------------------
    // <store>/runs/<run>, and <store>/runs/<run>/<step>/outputs.
    std::filesystem::path run_folder(const std::string& run);
    std::filesystem::path step_outputs(const std::string& run, const std::string& step);
    // Kept across the attempts of a step and across --resume of its run.
    std::filesystem::path step_checkpoints(const std::string& run, const std::string& step);
    // <run>/<step>/attempt-<k>, k counted from 1 as a person counts attempts
    // (shown_attempt); `attempt` is the record's 0-based number.
    std::filesystem::path attempt_logs(const std::string& run, const std::string& step,
                                       int attempt);
    // attempt_logs()/rank-<r>.log; the folder is created, the file is not.
    std::filesystem::path rank_log(const std::string& run, const std::string& step, int attempt,
                                   int global_rank);

    // --- upkeep -------------------------------------------------------------------------
    // PRAGMA integrity_check and foreign_key_check; false with the findings in last_error().
    bool check_integrity();

private:
    RunStore(std::unique_ptr<sqlite::Connection> db, std::filesystem::path root);

    bool fail(const std::string& message);
    bool fail(const std::string& what, const std::string& reason);
    int64_t now_ms();
    std::optional<int64_t> step_id(const std::string& run, const std::string& step);
    std::string stored_path(const std::filesystem::path& path) const;
    std::filesystem::path loaded_path(const std::string& text) const;
    // <store>/runs/<parts...>, each part checked to be one plain folder name.
    std::filesystem::path folder_under(const std::vector<std::string>& parts, bool create);
    bool insert_metric(const MetricRecord& metric, int64_t step_id);
    // The statements of set_run_state and set_step_state, without their sync setting.
    bool update_run_state(const std::string& run, RunState state, int exit_code);
    bool update_step_state(const std::string& run, const std::string& step, StepState state,
                           const std::string& cached_from, int64_t finished_ms);

    std::unique_ptr<sqlite::Connection> db_;
    std::filesystem::path root_;  // absolute
    std::string last_error_;
    int64_t last_ms_ = 0;  // never stamp a time earlier than one already stamped
    bool synced_ahead_ = false;
};

// An attempt's number as people see it, everywhere amlflow shows one (terminal, `runs
// show`, `logs --attempt`, reports, log folder names): the first attempt is 1. The store
// and TORCHELASTIC_RESTART_COUNT count from 0.
inline int shown_attempt(int number) { return number + 1; }

// Where the store is: $AMLFLOW_HOME if set and not empty, else the folder of the
// pipeline file joined with ".amlflow". The result is absolute.
std::filesystem::path default_store_folder(const std::filesystem::path& pipeline_file);

}  // namespace amlflow::runtime
