#include "runtime/store/run_store_schema.h"

#include <chrono>
#include <thread>

#include "runtime/store/run_store.h"

namespace amlflow::runtime {
namespace {

// Writers hold the lock for one short transaction, so five seconds is far beyond any
// legitimate wait; past it something is wrong and the caller should hear about it.
constexpr int kBusyTimeoutMs = 5000;

// Version 1. Keys: a run by its text id; a step by an integer id (unique per run and
// name), so that attempts, ranks and metrics, which are many, carry a small key; an
// attempt by (step, number); a rank by (step, attempt, global rank). Nothing is stored
// twice: a step's attempt count is counted, not kept. Times are unix ms, NULL for "not
// yet". JSON columns are checked with json_valid so that a bad write fails loudly at the
// writer rather than at every later reader.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE run (
    id          TEXT PRIMARY KEY NOT NULL,
    file        TEXT NOT NULL,
    plan_hash   TEXT NOT NULL,
    plan_json   TEXT NOT NULL CHECK (json_valid(plan_json)),
    params_json TEXT NOT NULL CHECK (json_valid(params_json)),
    state       TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'canceled')),
    created_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    exit_code   INTEGER,
    version     TEXT NOT NULL
);
CREATE INDEX run_by_created ON run (created_ms);

CREATE TABLE run_set (
    run_id   TEXT NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    arg      TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
) WITHOUT ROWID;

CREATE TABLE step (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed',
                                               'canceled', 'skipped', 'cached')),
    started_ms  INTEGER,
    finished_ms INTEGER,
    cached_from TEXT REFERENCES run (id) ON DELETE SET NULL,
    outputs     TEXT NOT NULL,
    UNIQUE (run_id, name)
);
CREATE INDEX step_by_hash ON step (hash);
CREATE INDEX step_by_cached_from ON step (cached_from);

CREATE TABLE attempt (
    step_id      INTEGER NOT NULL REFERENCES step (id) ON DELETE CASCADE,
    number       INTEGER NOT NULL CHECK (number >= 0),
    state        TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'canceled')),
    started_ms   INTEGER NOT NULL,
    finished_ms  INTEGER,
    master_port  INTEGER NOT NULL,
    failure_json TEXT CHECK (failure_json IS NULL OR json_valid(failure_json)),
    logs         TEXT NOT NULL,
    PRIMARY KEY (step_id, number)
) WITHOUT ROWID;

CREATE TABLE rank (
    step_id     INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    global_rank INTEGER NOT NULL CHECK (global_rank >= 0),
    local_rank  INTEGER NOT NULL,
    node_rank   INTEGER NOT NULL,
    pid         INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    exit_code   INTEGER,
    signal      INTEGER,
    log_file    TEXT NOT NULL,
    PRIMARY KEY (step_id, attempt, global_rank),
    FOREIGN KEY (step_id, attempt) REFERENCES attempt (step_id, number) ON DELETE CASCADE
) WITHOUT ROWID;

-- value is NULL for NaN: SQLite cannot store a NaN REAL.
CREATE TABLE metric (
    id         INTEGER PRIMARY KEY,
    step_id    INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    rank       INTEGER NOT NULL,
    name       TEXT NOT NULL,
    value      REAL,
    step_index INTEGER,
    time_ms    INTEGER NOT NULL,
    FOREIGN KEY (step_id, attempt) REFERENCES attempt (step_id, number) ON DELETE CASCADE
);
CREATE INDEX metric_by_step ON metric (step_id, name, step_index);

CREATE TABLE cache_key (
    hash       TEXT PRIMARY KEY NOT NULL,
    step_id    INTEGER NOT NULL REFERENCES step (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL
);
CREATE INDEX cache_key_by_step ON cache_key (step_id);
)sql";

// Version 2: what steps produce. A step's result (a sweep's best trial, a registered
// model's version, an export's report) as JSON; the params a script logged; and the
// model registry: versions per name, each a content-addressed copy with its lineage.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE step ADD COLUMN result_json TEXT CHECK (result_json IS NULL OR json_valid(result_json));
CREATE TABLE logged_param (
    step_id    INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    rank       INTEGER NOT NULL,
    name       TEXT NOT NULL,
    value_json TEXT NOT NULL CHECK (json_valid(value_json)),
    PRIMARY KEY (step_id, attempt, rank, name),
    FOREIGN KEY (step_id, attempt) REFERENCES attempt (step_id, number) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE model (
    name           TEXT NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    hash           TEXT NOT NULL,
    path           TEXT NOT NULL,
    bytes          INTEGER NOT NULL,
    run_id         TEXT NOT NULL,
    step           TEXT NOT NULL,
    source_step    TEXT NOT NULL,
    source_attempt INTEGER NOT NULL,
    description    TEXT NOT NULL,
    tags_json      TEXT NOT NULL CHECK (json_valid(tags_json)),
    metrics_json   TEXT NOT NULL CHECK (json_valid(metrics_json)),
    created_ms     INTEGER NOT NULL,
    PRIMARY KEY (name, version),
    UNIQUE (name, hash)
) WITHOUT ROWID;
)sql";

// Version 3: runs whose interpreter died. Two states ('interrupted', and 'detached' for a
// run whose work goes on at a remote service, named by remote_job), the supervising
// process (for `amlflow cancel`), and an index of the running runs, which every command
// checks when it opens the store. SQLite cannot change a CHECK constraint in place, so
// the table is rebuilt (https://sqlite.org/lang_altertable.html, "other kinds of table
// schema changes"), with foreign keys off: dropping the old table must not cascade.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE run_v3 (
    id             TEXT PRIMARY KEY NOT NULL,
    file           TEXT NOT NULL,
    plan_hash      TEXT NOT NULL,
    plan_json      TEXT NOT NULL CHECK (json_valid(plan_json)),
    params_json    TEXT NOT NULL CHECK (json_valid(params_json)),
    state          TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'canceled',
                                                  'interrupted', 'detached')),
    created_ms     INTEGER NOT NULL,
    finished_ms    INTEGER,
    exit_code      INTEGER,
    version        TEXT NOT NULL,
    supervisor_pid INTEGER,
    remote_job     TEXT
);
INSERT INTO run_v3 (id, file, plan_hash, plan_json, params_json, state, created_ms, finished_ms,
                    exit_code, version)
    SELECT id, file, plan_hash, plan_json, params_json, state, created_ms, finished_ms, exit_code,
           version FROM run;
DROP TABLE run;
ALTER TABLE run_v3 RENAME TO run;
CREATE INDEX run_by_created ON run (created_ms);
CREATE INDEX run_running ON run (id) WHERE state = 'running';
)sql";

// Version 4: the run's options (`--force`, `--force-step`), which `--resume` honours; and
// "stopped early", a state of its own for steps and attempts that a sweep's early-stop
// policy ended (version 2 kept them as 'canceled', the word for what a person stopped,
// and marked them "stopped" only in the sweep's result). SQLite cannot change a CHECK
// constraint in place, so the step and attempt tables are rebuilt (foreign keys are off
// during migrations, see configure), keeping every row and rowid; then the
// trials that the sweeps' results name as stopped get the new state.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE run ADD COLUMN options_json TEXT CHECK (options_json IS NULL OR json_valid(options_json));

CREATE TABLE step_v4 (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed',
                                               'canceled', 'skipped', 'cached', 'stopped early')),
    started_ms  INTEGER,
    finished_ms INTEGER,
    cached_from TEXT REFERENCES run (id) ON DELETE SET NULL,
    outputs     TEXT NOT NULL,
    result_json TEXT CHECK (result_json IS NULL OR json_valid(result_json)),
    UNIQUE (run_id, name)
);
INSERT INTO step_v4 (id, run_id, name, kind, hash, state, started_ms, finished_ms, cached_from, outputs, result_json)
    SELECT id, run_id, name, kind, hash, state, started_ms, finished_ms, cached_from, outputs, result_json FROM step;
DROP TABLE step;
ALTER TABLE step_v4 RENAME TO step;
CREATE INDEX step_by_hash ON step (hash);
CREATE INDEX step_by_cached_from ON step (cached_from);

CREATE TABLE attempt_v4 (
    step_id      INTEGER NOT NULL REFERENCES step (id) ON DELETE CASCADE,
    number       INTEGER NOT NULL CHECK (number >= 0),
    state        TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'canceled',
                                                'stopped early')),
    started_ms   INTEGER NOT NULL,
    finished_ms  INTEGER,
    master_port  INTEGER NOT NULL,
    failure_json TEXT CHECK (failure_json IS NULL OR json_valid(failure_json)),
    logs         TEXT NOT NULL,
    PRIMARY KEY (step_id, number)
) WITHOUT ROWID;
INSERT INTO attempt_v4 SELECT step_id, number, state, started_ms, finished_ms, master_port, failure_json, logs
    FROM attempt;
DROP TABLE attempt;
ALTER TABLE attempt_v4 RENAME TO attempt;

UPDATE step SET state = 'stopped early'
 WHERE kind = 'trial' AND state = 'canceled' AND EXISTS (
       SELECT 1 FROM step AS sweep, json_each(sweep.result_json, '$.trials') AS row
        WHERE sweep.run_id = step.run_id AND sweep.kind = 'sweep'
          AND json_extract(row.value, '$.name') = step.name
          AND json_extract(row.value, '$.state') = 'stopped');
UPDATE attempt SET state = 'stopped early'
 WHERE state = 'canceled'
   AND step_id IN (SELECT id FROM step WHERE state = 'stopped early')
   AND number = (SELECT max(last.number) FROM attempt AS last WHERE last.step_id = attempt.step_id);
UPDATE step SET result_json = json_set(result_json, '$.trials', json((
       SELECT json_group_array(CASE WHEN json_extract(row.value, '$.state') = 'stopped'
                                    THEN json_set(row.value, '$.state', 'stopped early')
                                    ELSE json(row.value) END)
         FROM json_each(step.result_json, '$.trials') AS row)))
 WHERE kind = 'sweep' AND json_type(result_json, '$.trials') = 'array';
)sql";

// Version 5: environments whose `pip` requirements a check found installed, so that a
// later run need not start the interpreter to ask again (core/environment_stamp.h). The
// key is the question (the interpreter as named, the requirement list, the variables
// Python reads at start-up); the rest is what the answer rests on, compared with stat
// before it is trusted, and the answer (the interpreter the ranks run).
constexpr const char* kSchemaV5 = R"sql(
CREATE TABLE verified_environment (
    python            TEXT NOT NULL,
    requirements_json TEXT NOT NULL CHECK (json_valid(requirements_json)),
    variables_json    TEXT NOT NULL CHECK (json_valid(variables_json)),
    interpreter       TEXT NOT NULL,
    identity          TEXT NOT NULL,
    watched_json      TEXT NOT NULL CHECK (json_valid(watched_json)),
    ready_python      TEXT NOT NULL,
    verified_ms       INTEGER NOT NULL,
    PRIMARY KEY (python, requirements_json, variables_json)
) WITHOUT ROWID;
)sql";

// Version 6: where a rank ran, for `hosts` jobs (NULL: this machine); its pid is that
// host's.
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE rank ADD COLUMN host TEXT;
)sql";

// Version 7: a registered model's version in a remote registry (an Azure ML workspace's
// model version, as `register model` of a remote job's outputs makes it), as JSON.
constexpr const char* kSchemaV7 = R"sql(
ALTER TABLE model ADD COLUMN workspace_json TEXT CHECK (workspace_json IS NULL OR json_valid(workspace_json));
)sql";

bool read_integer_pragma(sqlite::Connection& db, const char* sql, int* value, std::string* error) {
    sqlite::Query query = db.query(sql);
    if (query.step() != SQLITE_ROW) {
        *error = query.error();
        return false;
    }
    *value = static_cast<int>(query.integer(0));
    return true;
}

bool configure(sqlite::Connection& db, std::string* error) {
    sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
    // The last connection to close would otherwise checkpoint the WAL into store.db and
    // fsync it: ~10 ms at every interpreter exit and every `amlflow runs list`. The WAL
    // is as durable as the main file, the next open reads it, and writers checkpoint it
    // as it grows (wal_autocheckpoint), so closing can leave it.
    sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    {
        // WAL is a property of the file; asking again on an existing store is a no-op.
        // Switching a fresh file to WAL while another process opens it can answer BUSY
        // without waiting on busy_timeout, so that one case is retried, briefly.
        std::string mode;
        for (int tries = 0;; ++tries) {
            sqlite::Query wal = db.query("PRAGMA journal_mode = WAL");
            int rc = wal.step();
            if (rc == SQLITE_ROW) {
                mode = wal.text(0);
                break;
            }
            if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries == 200) {
                *error = "cannot turn on write-ahead logging: " + wal.error();
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (mode != "wal") {
            *error = "the file system does not support write-ahead logging (journal mode is '" +
                     mode + "')";
            return false;
        }
    }
    // Foreign keys go on after the migration (prepare_store_database): a rebuilt table
    // must be dropped without cascading, and the pragma cannot change inside a transaction.
    return db.exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;", error);
}

// After a table was rebuilt: every reference still has its row.
bool check_foreign_keys(sqlite::Connection& db, std::string* error) {
    sqlite::Query check = db.query("PRAGMA foreign_key_check");
    int rc = check.step();
    if (rc == SQLITE_DONE) return true;
    *error = rc == SQLITE_ROW ? "the migration left table '" + check.text(0) + "' with a dangling reference"
                              : check.error();
    return false;
}

// Creates or upgrades the schema inside one write transaction, re-reading the version
// under the lock: two processes opening a fresh store at once must not both create it.
bool migrate(sqlite::Connection& db, std::string* error) {
    int version = 0;
    if (!read_integer_pragma(db, "PRAGMA user_version", &version, error)) return false;
    if (version == RunStore::kSchemaVersion) return true;
    sqlite::Transaction transaction(db);
    if (!transaction.ok()) {
        *error = transaction.error();
        return false;
    }
    if (!read_integer_pragma(db, "PRAGMA user_version", &version, error)) return false;
    if (version > RunStore::kSchemaVersion) {
        *error = "the store was written by a newer amlflow (schema version " +
                 std::to_string(version) + ", this build reads up to " +
                 std::to_string(RunStore::kSchemaVersion) + ")";
        return false;
    }
    if (version == 0 && !db.exec(kSchemaV1, error)) return false;
    if (version < 2 && !db.exec(kSchemaV2, error)) return false;
    if (version < 3 && !(db.exec(kSchemaV3, error) && check_foreign_keys(db, error))) return false;
    if (version < 4 && !(db.exec(kSchemaV4, error) && check_foreign_keys(db, error))) return false;
    if (version < 5 && !db.exec(kSchemaV5, error)) return false;
    if (version < 6 && !db.exec(kSchemaV6, error)) return false;
    if (version < 7 && !db.exec(kSchemaV7, error)) return false;
    std::string set_version = "PRAGMA user_version = " + std::to_string(RunStore::kSchemaVersion);
    if (!db.exec(set_version.c_str(), error)) return false;
    if (!transaction.commit()) {
        *error = transaction.error();
        return false;
    }
    return true;
}

}  // namespace

const char* store_schema_v1() { return kSchemaV1; }
const char* store_schema_v2_upgrade() { return kSchemaV2; }

bool prepare_store_database(sqlite::Connection& db, std::string* error) {
    return configure(db, error) && migrate(db, error) && db.exec("PRAGMA foreign_keys = ON;", error);
}

}  // namespace amlflow::runtime
