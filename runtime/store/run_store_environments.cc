// Environments found ready: the stamps (core/environment_stamp.h) of checks that found an
// environment's requirements installed, so that a later run can skip starting Python
// when nothing they rest on changed. Losing one costs a check, never a wrong answer: a
// stamp is only trusted after stamp_holds() compared it with the disk.
#include <nlohmann/json.hpp>

#include "runtime/store/run_store.h"
#include "runtime/store/sqlite_handle.h"

namespace amlflow::runtime {

namespace {

std::string watched_json(const EnvironmentStamp& stamp) {
    nlohmann::json watched = nlohmann::json::array();
    for (const auto& [path, identity] : stamp.watched) watched.push_back({path, identity});
    return watched.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool read_watched(const std::string& text, EnvironmentStamp* stamp) {
    nlohmann::json watched = nlohmann::json::parse(text, nullptr, false);
    if (!watched.is_array()) return false;
    for (const auto& entry : watched) {
        if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_string()) return false;
        stamp->watched.emplace_back(entry[0].get<std::string>(), entry[1].get<std::string>());
    }
    return true;
}

}  // namespace

std::optional<EnvironmentStamp> RunStore::find_environment_stamp(const EnvironmentStamp& key) {
    sqlite::Query query = db_->query(
        "SELECT interpreter, identity, watched_json, ready_python, verified_ms FROM verified_environment"
        " WHERE python = ?1 AND requirements_json = ?2 AND variables_json = ?3");
    query.bind(1, key.python).bind(2, key.requirements_json).bind(3, key.variables_json);
    int rc = query.step();
    if (rc != SQLITE_ROW) {
        fail(rc == SQLITE_DONE ? "no verified environment for '" + key.python + "'"
                               : "cannot look up a verified environment: " + query.error());
        return std::nullopt;
    }
    EnvironmentStamp stamp;
    stamp.python = key.python;
    stamp.requirements_json = key.requirements_json;
    stamp.variables_json = key.variables_json;
    stamp.interpreter = query.text(0);
    stamp.identity = query.text(1);
    stamp.ready_python = query.text(3);
    stamp.verified_ms = query.integer(4);
    if (!read_watched(query.text(2), &stamp)) {
        fail("the verified environment for '" + key.python + "' lists its watched paths wrongly");
        return std::nullopt;
    }
    return stamp;
}

bool RunStore::put_environment_stamp(const EnvironmentStamp& stamp) {
    sqlite::Query insert = db_->query(
        "INSERT OR REPLACE INTO verified_environment (python, requirements_json, variables_json, interpreter,"
        " identity, watched_json, ready_python, verified_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    insert.bind(1, stamp.python).bind(2, stamp.requirements_json).bind(3, stamp.variables_json);
    insert.bind(4, stamp.interpreter).bind(5, stamp.identity).bind(6, watched_json(stamp));
    insert.bind(7, stamp.ready_python).bind(8, stamp.verified_ms ? stamp.verified_ms : now_ms());
    if (!insert.run()) return fail("cannot record the verified environment '" + stamp.python + "'", insert.error());
    return true;
}

}  // namespace amlflow::runtime
