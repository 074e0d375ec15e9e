// What steps produce beyond their attempts: a step's result JSON (a sweep's best trial,
// a model version, an export's report), the folder its outputs are in (another run's,
// when cached), the params its script logged, and putting a step back for `--resume`.
#include "runtime/store/run_store.h"
#include "runtime/store/sqlite_handle.h"

namespace amlflow::runtime {
namespace fs = std::filesystem;

namespace {

std::string step_name(const std::string& run, const std::string& step) {
    return "step '" + step + "' of run '" + run + "'";
}

}  // namespace

bool RunStore::set_step_outputs(const std::string& run, const std::string& step, const fs::path& outputs) {
    sqlite::Query update = db_->query("UPDATE step SET outputs = ?3 WHERE run_id = ?1 AND name = ?2");
    update.bind(1, run).bind(2, step).bind(3, stored_path(outputs));
    if (!update.run()) return fail("cannot record the outputs of " + step_name(run, step), update.error());
    if (db_->changes() == 0) return fail("cannot record the outputs of " + step_name(run, step), "no such step");
    return true;
}

bool RunStore::set_step_result(const std::string& run, const std::string& step, const std::string& result_json) {
    // NORMAL: the commit that marks the step succeeded (FULL) makes this durable too.
    sqlite::Query update = db_->query("UPDATE step SET result_json = ?3 WHERE run_id = ?1 AND name = ?2");
    update.bind(1, run).bind(2, step).bind_or_null(3, result_json);
    if (!update.run()) return fail("cannot record the result of " + step_name(run, step), update.error());
    if (db_->changes() == 0) return fail("cannot record the result of " + step_name(run, step), "no such step");
    return true;
}

bool RunStore::reset_step(const std::string& run, const std::string& step) {
    sqlite::Query update = db_->query(
        "UPDATE step SET state = 'pending', finished_ms = NULL, cached_from = NULL, result_json = NULL"
        " WHERE run_id = ?1 AND name = ?2");
    update.bind(1, run).bind(2, step);
    if (!update.run()) return fail("cannot reset " + step_name(run, step), update.error());
    if (db_->changes() == 0) return fail("cannot reset " + step_name(run, step), "no such step");
    return true;
}

bool RunStore::add_params(const std::string& run, const std::string& step, int attempt, int rank,
                          const std::vector<std::pair<std::string, std::string>>& params) {
    if (params.empty()) return true;
    const std::string what = "cannot record the params of " + step_name(run, step);
    sqlite::Transaction transaction(*db_);
    if (!transaction.ok()) return fail(what, transaction.error());
    std::optional<int64_t> id = step_id(run, step);
    if (!id) return fail(what, last_error_);
    for (const auto& [name, value] : params) {
        sqlite::Query insert = db_->query(
            "INSERT OR REPLACE INTO logged_param (step_id, attempt, rank, name, value_json)"
            " VALUES (?1, ?2, ?3, ?4, ?5)");
        insert.bind(1, *id).bind(2, attempt).bind(3, rank).bind(4, name).bind(5, value);
        if (!insert.run()) return fail(what, insert.error());
    }
    if (!transaction.commit()) return fail(what, transaction.error());
    return true;
}

std::optional<std::vector<std::pair<std::string, std::string>>> RunStore::params_of(const std::string& run,
                                                                                      const std::string& step) {
    // Ordered so that, per name, the row that should win comes last.
    sqlite::Query query = db_->query(
        "SELECT p.name, p.value_json FROM logged_param p JOIN step s ON s.id = p.step_id"
        " WHERE s.run_id = ?1 AND s.name = ?2 ORDER BY p.name, p.attempt, p.rank DESC");
    query.bind(1, run).bind(2, step);
    std::vector<std::pair<std::string, std::string>> params;
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) {
        std::string name = query.text(0);
        if (!params.empty() && params.back().first == name) {
            params.back().second = query.text(1);
        } else {
            params.emplace_back(name, query.text(1));
        }
    }
    if (rc != SQLITE_DONE) {
        fail("cannot read the params of " + step_name(run, step), query.error());
        return std::nullopt;
    }
    return params;
}

}  // namespace amlflow::runtime
