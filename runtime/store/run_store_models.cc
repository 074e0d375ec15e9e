// The model registry's records: versions per name, numbered 1, 2, ... in one write
// transaction (two registrations at once cannot take the same number), and identical
// content under a name answered by its existing version.
#include "runtime/store/run_store.h"
#include "runtime/store/sqlite_handle.h"

namespace amlflow::runtime {
namespace fs = std::filesystem;

namespace {

constexpr const char* kModelColumns =
    "name, version, hash, path, bytes, run_id, step, source_step, source_attempt, description,"
    " tags_json, metrics_json, created_ms, coalesce(workspace_json, '')";

}  // namespace

fs::path RunStore::registry_folder() {
    fs::path folder = root_ / "registry";
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) {
        fail("cannot create " + folder.string() + ": " + ec.message());
        return {};
    }
    return folder;
}

namespace {

ModelRecord read_model(sqlite::Query& query) {
    ModelRecord model;
    model.name = query.text(0);
    model.version = static_cast<int>(query.integer(1));
    model.hash = query.text(2);
    model.path = query.text(3);  // made absolute by the caller
    model.bytes = query.integer(4);
    model.run_id = query.text(5);
    model.step = query.text(6);
    model.source_step = query.text(7);
    model.source_attempt = static_cast<int>(query.integer(8));
    model.description = query.text(9);
    model.tags_json = query.text(10);
    model.metrics_json = query.text(11);
    model.created_ms = query.integer(12);
    model.workspace_json = query.text(13);
    return model;
}

}  // namespace

std::optional<ModelRecord> RunStore::add_model(const NewModel& model) {
    const std::string what = "cannot register model '" + model.name + "'";
    sqlite::FullSyncScope durable(*db_, true);
    sqlite::Transaction transaction(*db_);
    if (!transaction.ok()) {
        fail(what, transaction.error());
        return std::nullopt;
    }
    {
        sqlite::Query same = db_->query(std::string("SELECT ") + kModelColumns +
                                        " FROM model WHERE name = ?1 AND hash = ?2");
        same.bind(1, model.name).bind(2, model.hash);
        if (same.step() == SQLITE_ROW) {
            ModelRecord existing = read_model(same);
            existing.path = loaded_path(existing.path.string());
            existing.existing = true;
            if (model.workspace_json.empty() || model.workspace_json == existing.workspace_json) return existing;
            sqlite::Query update = db_->query("UPDATE model SET workspace_json = ?3 WHERE name = ?1 AND version = ?2");
            update.bind(1, existing.name).bind(2, existing.version).bind(3, model.workspace_json);
            if (!update.run() || !transaction.commit()) {
                fail(what, update.error().empty() ? transaction.error() : update.error());
                return std::nullopt;
            }
            existing.workspace_json = model.workspace_json;
            return existing;
        }
    }
    ModelRecord record;
    static_cast<NewModel&>(record) = model;
    {
        sqlite::Query next = db_->query("SELECT coalesce(max(version) + 1, 1) FROM model WHERE name = ?1");
        next.bind(1, model.name);
        if (next.step() != SQLITE_ROW) {
            fail(what, next.error());
            return std::nullopt;
        }
        record.version = static_cast<int>(next.integer(0));
    }
    record.created_ms = now_ms();
    sqlite::Query insert = db_->query(
        "INSERT INTO model (name, version, hash, path, bytes, run_id, step, source_step, source_attempt, description,"
        " tags_json, metrics_json, created_ms, workspace_json)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, nullif(?14, ''))");
    insert.bind(1, model.name).bind(2, record.version).bind(3, model.hash).bind(4, stored_path(model.path));
    insert.bind(5, model.bytes).bind(6, model.run_id).bind(7, model.step).bind(8, model.source_step);
    insert.bind(9, model.source_attempt).bind(10, model.description).bind(11, model.tags_json);
    insert.bind(12, model.metrics_json).bind(13, record.created_ms).bind(14, model.workspace_json);
    if (!insert.run() || !transaction.commit()) {
        fail(what, insert.error().empty() ? transaction.error() : insert.error());
        return std::nullopt;
    }
    return record;
}

std::optional<ModelRecord> RunStore::find_model(const std::string& name, int version) {
    sqlite::Query query = db_->query(std::string("SELECT ") + kModelColumns + " FROM model WHERE name = ?1" +
                                     (version > 0 ? " AND version = ?2" : " ORDER BY version DESC LIMIT 1"));
    query.bind(1, name);
    if (version > 0) query.bind(2, version);
    int rc = query.step();
    if (rc == SQLITE_ROW) {
        ModelRecord model = read_model(query);
        model.path = loaded_path(model.path.string());
        return model;
    }
    std::string which = "model '" + name + "'" + (version > 0 ? " version " + std::to_string(version) : "");
    fail("cannot find " + which, rc == SQLITE_DONE ? "it is not registered in this store" : query.error());
    return std::nullopt;
}

std::optional<std::vector<ModelRecord>> RunStore::list_models(const std::string& name) {
    sqlite::Query query = db_->query(std::string("SELECT ") + kModelColumns + " FROM model" +
                                     (name.empty() ? "" : " WHERE name = ?1") + " ORDER BY name, version");
    if (!name.empty()) query.bind(1, name);
    std::vector<ModelRecord> models;
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) {
        models.push_back(read_model(query));
        models.back().path = loaded_path(models.back().path.string());
    }
    if (rc != SQLITE_DONE) {
        fail("cannot list models", query.error());
        return std::nullopt;
    }
    return models;
}

}  // namespace amlflow::runtime
