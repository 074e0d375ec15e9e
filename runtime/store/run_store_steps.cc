// Step, attempt and rank records of the run store. A step is found by (run, name); its
// attempts and ranks hang off the step's integer id, looked up in the same statement so
// that each change stays one statement or one short transaction.
#include "runtime/store/run_store.h"
#include "runtime/store/sqlite_handle.h"

namespace amlflow::runtime {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStepIdOf = "(SELECT id FROM step WHERE run_id = ?1 AND name = ?2)";

std::string step_name(const std::string& run, const std::string& step) {
    return "step '" + step + "' of run '" + run + "'";
}

std::string attempt_name(const std::string& run, const std::string& step, int attempt) {
    return "attempt " + std::to_string(shown_attempt(attempt)) + " of " + step_name(run, step);
}

bool is_final(StepState state) {
    return state != StepState::Pending && state != StepState::Running;
}

}  // namespace

std::optional<int64_t> RunStore::step_id(const std::string& run, const std::string& step) {
    sqlite::Query query = db_->query("SELECT id FROM step WHERE run_id = ?1 AND name = ?2");
    query.bind(1, run).bind(2, step);
    int rc = query.step();
    if (rc == SQLITE_ROW) return query.integer(0);
    fail(rc == SQLITE_DONE ? "no such step" : query.error());
    return std::nullopt;
}

// --- steps -----------------------------------------------------------------------------

bool RunStore::add_step(const std::string& run, const std::string& step, const std::string& kind,
                        const std::string& hash) {
    const std::string what = "cannot record " + step_name(run, step);
    fs::path outputs = folder_under({run, step, "outputs"}, false);
    if (outputs.empty()) return fail(what, last_error_);
    sqlite::Query insert = db_->query(
        "INSERT INTO step (run_id, name, kind, hash, state, outputs)"
        " VALUES (?1, ?2, ?3, ?4, 'pending', ?5)");
    insert.bind(1, run).bind(2, step).bind(3, kind).bind(4, hash).bind(5, stored_path(outputs));
    if (insert.run()) return true;
    if (insert.rc() == SQLITE_CONSTRAINT_UNIQUE) return fail(what, "the run already has that step");
    if (insert.rc() == SQLITE_CONSTRAINT_FOREIGNKEY) return fail(what, "no such run");
    return fail(what, insert.error());
}

bool RunStore::set_step_state(const std::string& run, const std::string& step, StepState state,
                              const std::string& cached_from, int64_t finished_ms) {
    // A succeeded step is the record whose loss would redo real work: make it survive
    // power loss too (see run_store.h).
    sqlite::FullSyncScope durable(*db_, state == StepState::Succeeded);
    return update_step_state(run, step, state, cached_from, finished_ms);
}

bool RunStore::update_step_state(const std::string& run, const std::string& step, StepState state,
                                 const std::string& cached_from, int64_t finished_ms) {
    const std::string what = "cannot record " + step_name(run, step) + " as " + to_string(state);
    sqlite::Query update = db_->query(
        "UPDATE step SET state = ?3,"
        " started_ms = CASE WHEN ?3 = 'running' THEN coalesce(started_ms, ?4) ELSE started_ms END,"
        " finished_ms = ?5, cached_from = ?6"
        " WHERE run_id = ?1 AND name = ?2");
    int64_t now = now_ms();
    update.bind(1, run).bind(2, step).bind(3, to_string(state)).bind(4, now);
    if (is_final(state)) update.bind(5, finished_ms ? finished_ms : now);
    if (state == StepState::Cached) update.bind_or_null(6, cached_from);
    if (!update.run()) {
        if (update.rc() == SQLITE_CONSTRAINT_FOREIGNKEY) {
            return fail(what, "no run '" + cached_from + "' to reuse from");
        }
        return fail(what, update.error());
    }
    if (db_->changes() == 0) return fail(what, "no such step");
    return true;
}

std::optional<std::vector<StepRecord>> RunStore::steps_of(const std::string& run) {
    // The attempt count is counted rather than stored, so it can never disagree.
    sqlite::Query query = db_->query(
        "SELECT s.name, s.kind, s.hash, s.state, s.started_ms, s.finished_ms,"
        " (SELECT count(*) FROM attempt a WHERE a.step_id = s.id), s.cached_from, s.outputs,"
        " s.result_json"
        " FROM step s WHERE s.run_id = ?1 ORDER BY s.id");
    query.bind(1, run);
    std::vector<StepRecord> steps;
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) {
        StepRecord& record = steps.emplace_back();
        record.run_id = run;
        record.name = query.text(0);
        record.kind = query.text(1);
        record.hash = query.text(2);
        record.state = parse_step_state(query.text(3)).value_or(StepState::Failed);
        record.started_ms = query.integer(4);
        record.finished_ms = query.integer(5);
        record.attempts = static_cast<int>(query.integer(6));
        record.cached_from = query.text(7);
        record.outputs = loaded_path(query.text(8));
        record.result_json = query.text(9);
    }
    if (rc != SQLITE_DONE) {
        fail("cannot read the steps of run '" + run + "'", query.error());
        return std::nullopt;
    }
    return steps;
}

// --- attempts --------------------------------------------------------------------------

std::optional<int> RunStore::begin_attempt(const std::string& run, const std::string& step,
                                           int master_port) {
    const std::string what = "cannot start an attempt of " + step_name(run, step);
    sqlite::Transaction transaction(*db_);
    if (!transaction.ok()) {
        fail(what, transaction.error());
        return std::nullopt;
    }
    std::optional<int64_t> id = step_id(run, step);
    if (!id) {
        fail(what, last_error_);
        return std::nullopt;
    }
    int number = 0;
    {
        sqlite::Query next =
            db_->query("SELECT coalesce(max(number) + 1, 0) FROM attempt WHERE step_id = ?1");
        next.bind(1, *id);
        if (next.step() != SQLITE_ROW) {
            fail(what, next.error());
            return std::nullopt;
        }
        number = static_cast<int>(next.integer(0));
    }
    // The folder exists before the record says the attempt runs, so a reader that finds
    // the record can always open its logs.
    fs::path logs = attempt_logs(run, step, number);
    if (logs.empty()) {
        fail(what, last_error_);
        return std::nullopt;
    }
    int64_t now = now_ms();
    sqlite::Query insert = db_->query(
        "INSERT INTO attempt (step_id, number, state, started_ms, master_port, logs)"
        " VALUES (?1, ?2, 'running', ?3, ?4, ?5)");
    insert.bind(1, *id).bind(2, number).bind(3, now).bind(4, master_port).bind(5, stored_path(logs));
    if (!insert.run()) {
        fail(what, insert.error());
        return std::nullopt;
    }
    sqlite::Query update = db_->query(
        "UPDATE step SET state = 'running', started_ms = coalesce(started_ms, ?2),"
        " finished_ms = NULL WHERE id = ?1");
    update.bind(1, *id).bind(2, now);
    if (!update.run()) {
        fail(what, update.error());
        return std::nullopt;
    }
    if (!transaction.commit()) {
        fail(what, transaction.error());
        return std::nullopt;
    }
    return number;
}

bool RunStore::finish_attempt(const std::string& run, const std::string& step, int attempt,
                              AttemptState state, const std::string& failure_json, int64_t finished_ms) {
    const std::string what =
        "cannot record " + attempt_name(run, step, attempt) + " as " + to_string(state);
    sqlite::Query update = db_->query(std::string(
        "UPDATE attempt SET state = ?4, finished_ms = ?5, failure_json = ?6"
        " WHERE step_id = ") + kStepIdOf + " AND number = ?3");
    update.bind(1, run).bind(2, step).bind(3, attempt).bind(4, to_string(state));
    if (state != AttemptState::Running) update.bind(5, finished_ms ? finished_ms : now_ms());
    update.bind_or_null(6, failure_json);
    if (!update.run()) return fail(what, update.error());
    if (db_->changes() == 0) return fail(what, "no such attempt");
    return true;
}

bool RunStore::set_attempt_port(const std::string& run, const std::string& step, int attempt, int master_port) {
    const std::string what = "cannot record the MASTER_PORT of " + attempt_name(run, step, attempt);
    sqlite::Query update = db_->query(std::string("UPDATE attempt SET master_port = ?4 WHERE step_id = ") + kStepIdOf +
                                      " AND number = ?3");
    update.bind(1, run).bind(2, step).bind(3, attempt).bind(4, master_port);
    if (!update.run()) return fail(what, update.error());
    if (db_->changes() == 0) return fail(what, "no such attempt");
    return true;
}

std::optional<std::vector<AttemptRecord>> RunStore::attempts_of(const std::string& run,
                                                                const std::string& step) {
    sqlite::Query query = db_->query(std::string(
        "SELECT number, state, started_ms, finished_ms, master_port, failure_json, logs"
        " FROM attempt WHERE step_id = ") + kStepIdOf + " ORDER BY number");
    query.bind(1, run).bind(2, step);
    std::vector<AttemptRecord> attempts;
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) {
        AttemptRecord& record = attempts.emplace_back();
        record.run_id = run;
        record.step = step;
        record.number = static_cast<int>(query.integer(0));
        record.state = parse_attempt_state(query.text(1)).value_or(AttemptState::Failed);
        record.started_ms = query.integer(2);
        record.finished_ms = query.integer(3);
        record.master_port = static_cast<int>(query.integer(4));
        record.failure_json = query.text(5);
        record.logs = loaded_path(query.text(6));
    }
    if (rc != SQLITE_DONE) {
        fail("cannot read the attempts of " + step_name(run, step), query.error());
        return std::nullopt;
    }
    return attempts;
}

// --- ranks -----------------------------------------------------------------------------

bool RunStore::add_rank(const RankRecord& rank) {
    const std::string what = "cannot record rank " + std::to_string(rank.global_rank) + " of " +
                             attempt_name(rank.run_id, rank.step, rank.attempt);
    fs::path log_file = rank.log_file;
    if (log_file.empty()) {
        log_file = folder_under({rank.run_id, rank.step, "attempt-" + std::to_string(shown_attempt(rank.attempt))},
                                false);
        if (log_file.empty()) return fail(what, last_error_);
        log_file /= "rank-" + std::to_string(rank.global_rank) + ".log";
    }
    sqlite::Query insert = db_->query(std::string(
        "INSERT INTO rank (step_id, attempt, global_rank, local_rank, node_rank, pid, started_ms,"
        " finished_ms, exit_code, signal, log_file, host)"
        " VALUES (") + kStepIdOf + ", ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    insert.bind(1, rank.run_id).bind(2, rank.step).bind(3, rank.attempt).bind(4, rank.global_rank);
    insert.bind(5, rank.local_rank).bind(6, rank.node_rank).bind(7, rank.pid);
    insert.bind(8, rank.started_ms ? rank.started_ms : now_ms());
    insert.bind_or_null(9, rank.finished_ms, 0).bind_or_null(10, rank.exit_code, -1);
    insert.bind_or_null(11, rank.signal, 0).bind(12, stored_path(log_file));
    if (!rank.host.empty()) insert.bind(13, rank.host);
    if (insert.run()) return true;
    switch (insert.rc()) {
        case SQLITE_CONSTRAINT_PRIMARYKEY: return fail(what, "that rank is already recorded");
        case SQLITE_CONSTRAINT_FOREIGNKEY:
        case SQLITE_CONSTRAINT_NOTNULL: return fail(what, "no such attempt");
        default: return fail(what, insert.error());
    }
}

bool RunStore::finish_rank(const std::string& run, const std::string& step, int attempt,
                           int global_rank, int exit_code, int signal, int64_t finished_ms) {
    const std::string what =
        "cannot record the end of rank " + std::to_string(global_rank) + " of " +
        attempt_name(run, step, attempt);
    sqlite::Query update = db_->query(std::string(
        "UPDATE rank SET finished_ms = ?5, exit_code = ?6, signal = ?7"
        " WHERE step_id = ") + kStepIdOf + " AND attempt = ?3 AND global_rank = ?4");
    update.bind(1, run).bind(2, step).bind(3, attempt).bind(4, global_rank);
    update.bind(5, finished_ms ? finished_ms : now_ms());
    update.bind_or_null(6, exit_code, -1).bind_or_null(7, signal, 0);
    if (!update.run()) return fail(what, update.error());
    if (db_->changes() == 0) return fail(what, "no such rank");
    return true;
}

std::optional<std::vector<RankRecord>> RunStore::ranks_of(const std::string& run,
                                                          const std::string& step, int attempt) {
    sqlite::Query query = db_->query(std::string(
        "SELECT global_rank, local_rank, node_rank, pid, started_ms, finished_ms, exit_code,"
        " signal, log_file, host FROM rank WHERE step_id = ") + kStepIdOf +
        " AND attempt = ?3 ORDER BY global_rank");
    query.bind(1, run).bind(2, step).bind(3, attempt);
    std::vector<RankRecord> ranks;
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) {
        RankRecord& record = ranks.emplace_back();
        record.run_id = run;
        record.step = step;
        record.attempt = attempt;
        record.global_rank = static_cast<int>(query.integer(0));
        record.local_rank = static_cast<int>(query.integer(1));
        record.node_rank = static_cast<int>(query.integer(2));
        record.pid = query.integer(3);
        record.started_ms = query.integer(4);
        record.finished_ms = query.integer(5);
        record.exit_code = static_cast<int>(query.integer(6, -1));
        record.signal = static_cast<int>(query.integer(7));
        record.log_file = loaded_path(query.text(8));
        record.host = query.text(9);
    }
    if (rc != SQLITE_DONE) {
        fail("cannot read the ranks of " + attempt_name(run, step, attempt), query.error());
        return std::nullopt;
    }
    return ranks;
}

}  // namespace amlflow::runtime
