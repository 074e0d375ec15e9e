// Metrics and cache keys of the run store. Metrics are the many small rows (a script
// may report every training step), so a batch is one transaction with the step looked
// up once per step rather than once per row. Cache keys map a step's content hash to
// the step whose outputs answer it.
#include <cmath>
#include <limits>

#include "runtime/store/run_store.h"
#include "runtime/store/sqlite_handle.h"

namespace amlflow::runtime {

bool RunStore::insert_metric(const MetricRecord& metric, int64_t step_id) {
    sqlite::Query insert = db_->query(
        "INSERT INTO metric (step_id, attempt, rank, name, value, step_index, time_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    insert.bind(1, step_id).bind(2, metric.attempt).bind(3, metric.rank).bind(4, metric.name);
    // SQLite would turn a NaN into NULL anyway; saying so keeps the mapping explicit.
    if (std::isnan(metric.value)) {
        insert.bind_null(5);
    } else {
        insert.bind(5, metric.value);
    }
    insert.bind_or_null(6, metric.step_index, -1);
    insert.bind(7, metric.time_ms ? metric.time_ms : now_ms());
    if (insert.run()) return true;
    std::string what = "cannot record metric '" + metric.name + "' of step '" + metric.step +
                       "' of run '" + metric.run_id + "'";
    if (insert.rc() == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return fail(what, "no attempt " + std::to_string(metric.attempt));
    }
    return fail(what, insert.error());
}

bool RunStore::add_metric(const MetricRecord& metric) { return add_metrics({metric}); }

bool RunStore::add_metrics(const std::vector<MetricRecord>& metrics) {
    if (metrics.empty()) return true;
    sqlite::Transaction transaction(*db_);
    if (!transaction.ok()) return fail("cannot record metrics", transaction.error());
    const MetricRecord* previous = nullptr;
    int64_t id = 0;
    for (const MetricRecord& metric : metrics) {
        if (!previous || previous->run_id != metric.run_id || previous->step != metric.step) {
            std::optional<int64_t> found = step_id(metric.run_id, metric.step);
            if (!found) {
                return fail("cannot record metrics of step '" + metric.step + "' of run '" +
                                metric.run_id + "'",
                            last_error_);
            }
            id = *found;
            previous = &metric;
        }
        if (!insert_metric(metric, id)) return false;  // the transaction rolls back
    }
    if (!transaction.commit()) return fail("cannot record metrics", transaction.error());
    return true;
}

std::optional<std::vector<MetricRecord>> RunStore::metrics_of(const std::string& run,
                                                              const std::string& step,
                                                              const std::string& name) {
    // Two statements rather than "(?3 = '' OR name = ?3)", which would keep the index
    // from narrowing by name.
    const char* sql = name.empty()
        ? "SELECT attempt, rank, name, value, step_index, time_ms FROM metric"
          " WHERE step_id = (SELECT id FROM step WHERE run_id = ?1 AND name = ?2) ORDER BY id"
        : "SELECT attempt, rank, name, value, step_index, time_ms FROM metric"
          " WHERE step_id = (SELECT id FROM step WHERE run_id = ?1 AND name = ?2) AND name = ?3"
          " ORDER BY id";
    sqlite::Query query = db_->query(sql);
    query.bind(1, run).bind(2, step);
    if (!name.empty()) query.bind(3, name);
    std::vector<MetricRecord> metrics;
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) {
        MetricRecord& record = metrics.emplace_back();
        record.run_id = run;
        record.step = step;
        record.attempt = static_cast<int>(query.integer(0));
        record.rank = static_cast<int>(query.integer(1));
        record.name = query.text(2);
        record.value = query.is_null(3) ? std::numeric_limits<double>::quiet_NaN() : query.real(3);
        record.step_index = query.integer(4, -1);
        record.time_ms = query.integer(5);
    }
    if (rc != SQLITE_DONE) {
        fail("cannot read the metrics of step '" + step + "' of run '" + run + "'", query.error());
        return std::nullopt;
    }
    return metrics;
}

bool RunStore::put_cache_key(const std::string& hash, const std::string& run,
                             const std::string& step) {
    const std::string what = "cannot record the cache key of step '" + step + "' of run '" + run + "'";
    sqlite::Query insert = db_->query(
        "INSERT INTO cache_key (hash, step_id, created_ms)"
        " VALUES (?1, (SELECT id FROM step WHERE run_id = ?2 AND name = ?3), ?4)"
        " ON CONFLICT (hash) DO UPDATE SET step_id = excluded.step_id,"
        " created_ms = excluded.created_ms");
    insert.bind(1, hash).bind(2, run).bind(3, step).bind(4, now_ms());
    if (insert.run()) return true;
    if (insert.rc() == SQLITE_CONSTRAINT_NOTNULL) return fail(what, "no such step");
    return fail(what, insert.error());
}

std::optional<CacheEntry> RunStore::find_cache_key(const std::string& hash) {
    sqlite::Query query = db_->query(
        "SELECT s.run_id, s.name, c.created_ms FROM cache_key c JOIN step s ON s.id = c.step_id"
        " WHERE c.hash = ?1");
    query.bind(1, hash);
    int rc = query.step();
    if (rc == SQLITE_ROW) return CacheEntry{hash, query.text(0), query.text(1), query.integer(2)};
    fail(rc == SQLITE_DONE ? "no cached result for hash '" + hash + "'"
                           : "cannot look up a cached result: " + query.error());
    return std::nullopt;
}

}  // namespace amlflow::runtime
