// The end of a run's life in the store: a run's last step and its end in one durable
// commit; runs whose interpreter died (recorded as interrupted or detached once that is
// known: run_liveness.h), and runs removed (`amlflow runs rm`, `amlflow gc`: run_removal.h
// decides what, this deletes the records); the WAL's first sync made ahead of need.
#include <unistd.h>

#include "runtime/store/run_store.h"
#include "runtime/store/sqlite_handle.h"

namespace amlflow::runtime {
namespace {

std::string quoted(const std::string& text) { return "'" + text + "'"; }

// What `amlflow run --resume` writes for an attempt the killed interpreter left running.
constexpr const char* kInterruptedAttempt =
    R"({"reason":"interrupted","rank":-1,"message":"amlflow stopped before the attempt ended"})";

}  // namespace

bool RunStore::finish_run_with_step(const std::string& run, const std::string& step, StepState step_state,
                                    RunState state, int exit_code) {
    // One transaction, one fsync (synchronous=FULL) for both records: the run's end is
    // durable with the step's, and set_step_state + set_run_state would sync twice.
    sqlite::FullSyncScope durable(*db_, true);
    sqlite::Transaction transaction(*db_);
    if (!transaction.ok()) return fail("cannot record the end of run " + quoted(run), transaction.error());
    if (!update_step_state(run, step, step_state, "", 0)) return false;
    if (!update_run_state(run, state, exit_code)) return false;
    if (!transaction.commit()) return fail("cannot record the end of run " + quoted(run), transaction.error());
    return true;
}

void RunStore::sync_ahead() {
    if (synced_ahead_) return;
    synced_ahead_ = true;
    // SQLite's unix VFS syncs the WAL's folder too the first time a process syncs the WAL
    // (it cannot know whether that process created the file), an fsync of its own (0.1 to
    // 8 ms measured here). Syncing the WAL now, through the VFS, does that once here.
    sqlite3_file* wal = nullptr;
    if (sqlite3_file_control(db_->get(), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK) return;
    if (wal && wal->pMethods) wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
}

bool RunStore::set_remote_job(const std::string& run, const std::string& job) {
    sqlite::Query update = db_->query("UPDATE run SET remote_job = ?2 WHERE id = ?1");
    update.bind(1, run).bind_or_null(2, job);
    if (!update.run()) return fail("cannot record the remote job of run " + quoted(run), update.error());
    if (db_->changes() == 0) return fail("cannot record the remote job of run " + quoted(run), "no such run");
    return true;
}

std::optional<std::vector<std::string>> RunStore::running_runs() {
    std::vector<std::string> ids;
    // The partial index run_running answers this without reading any plan.
    sqlite::Query query = db_->query("SELECT id FROM run WHERE state = 'running' ORDER BY id");
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) ids.push_back(query.text(0));
    if (rc != SQLITE_DONE) {
        fail("cannot list the running runs", query.error());
        return std::nullopt;
    }
    return ids;
}

std::optional<RunState> RunStore::record_abandoned(const std::string& run) {
    const std::string what = "cannot record run " + quoted(run) + " as interrupted";
    sqlite::FullSyncScope durable(*db_, true);
    sqlite::Transaction transaction(*db_);
    if (!transaction.ok()) {
        fail(what, transaction.error());
        return std::nullopt;
    }
    sqlite::Query select = db_->query("SELECT state, coalesce(remote_job, '') FROM run WHERE id = ?1");
    select.bind(1, run);
    int rc = select.step();
    if (rc != SQLITE_ROW) {
        fail(what, rc == SQLITE_DONE ? "no such run" : select.error());
        return std::nullopt;
    }
    RunState state = parse_run_state(select.text(0)).value_or(RunState::Failed);
    if (state != RunState::Running) return state;  // it ended in the meantime
    state = select.text(1).empty() ? RunState::Interrupted : RunState::Detached;
    // No finish time: when the interpreter died is not known, only when it was noticed.
    std::vector<std::string> statements = {"UPDATE run SET state = ?2 WHERE id = ?1"};
    if (state == RunState::Interrupted) {
        // A detached run's steps go on at the service; an interrupted run's stopped here.
        statements.push_back(
            "UPDATE attempt SET state = 'canceled', failure_json = coalesce(failure_json, ?2)"
            " WHERE state = 'running' AND step_id IN (SELECT id FROM step WHERE run_id = ?1)");
        statements.push_back("UPDATE step SET state = 'canceled' WHERE run_id = ?1 AND state IN ('pending', 'running')");
    }
    for (const std::string& sql : statements) {
        sqlite::Query update = db_->query(sql);
        update.bind(1, run);
        if (sql.find("?2") != std::string::npos) {
            update.bind(2, sql.rfind("UPDATE run", 0) == 0 ? to_string(state) : kInterruptedAttempt);
        }
        if (!update.run()) {
            fail(what, update.error());
            return std::nullopt;
        }
    }
    if (!transaction.commit()) {
        fail(what, transaction.error());
        return std::nullopt;
    }
    return state;
}

std::optional<std::vector<CacheEntry>> RunStore::cache_keys_of(const std::string& run) {
    std::vector<CacheEntry> entries;
    sqlite::Query query = db_->query(
        "SELECT c.hash, s.name, c.created_ms FROM cache_key c JOIN step s ON s.id = c.step_id"
        " WHERE s.run_id = ?1 ORDER BY s.id");
    query.bind(1, run);
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) entries.push_back({query.text(0), run, query.text(1), query.integer(2)});
    if (rc != SQLITE_DONE) {
        fail("cannot read the cache keys of run " + quoted(run), query.error());
        return std::nullopt;
    }
    return entries;
}

bool RunStore::delete_runs(const std::vector<std::string>& runs, const std::vector<CacheEntry>& moves) {
    const std::string what = "cannot remove runs";
    sqlite::FullSyncScope durable(*db_, true);
    sqlite::Transaction transaction(*db_);
    if (!transaction.ok()) return fail(what, transaction.error());
    for (const CacheEntry& move : moves) {
        sqlite::Query update = db_->query(
            "UPDATE cache_key SET step_id = (SELECT id FROM step WHERE run_id = ?2 AND name = ?3) WHERE hash = ?1");
        update.bind(1, move.hash).bind(2, move.run_id).bind(3, move.step);
        if (!update.run()) return fail(what, update.error());
    }
    // Steps, attempts, ranks, metrics, params and cache keys go with the run (ON DELETE
    // CASCADE); other runs' steps cached from it keep their records (cached_from NULL).
    for (const std::string& run : runs) {
        sqlite::Query remove = db_->query("DELETE FROM run WHERE id = ?1");
        remove.bind(1, run);
        if (!remove.run()) return fail(what, "run " + quoted(run) + ": " + remove.error());
    }
    if (!transaction.commit()) return fail(what, transaction.error());
    return true;
}

}  // namespace amlflow::runtime
