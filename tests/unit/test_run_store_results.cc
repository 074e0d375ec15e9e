#include <boost/test/unit_test.hpp>

// The run store's records of what steps produce (schema version 2): the model registry,
// step results and outputs, steps put back for --resume, logged params, and a store
// written by a version-1 amlflow upgraded in place with its runs kept.
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/store/remote_jobs.h"
#include "runtime/store/run_store.h"
#include "runtime/store/run_store_schema.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace amlflow::runtime;
using amlflow::testing::TempProject;
using nlohmann::json;

namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::unique_ptr<RunStore> open_store(const fs::path& folder) {
    std::string error;
    auto store = RunStore::open(folder, &error);
    BOOST_TEST_REQUIRE(bool(store), error);
    return store;
}

std::string create_run(RunStore& store) {
    NewRun run;
    run.file = "/p/birds.amlflow";
    run.plan_hash = "abc";
    run.plan_json = "{}";
    auto id = store.create_run(run);
    BOOST_TEST_REQUIRE(id.has_value(), store.last_error());
    return *id;
}

// A run with one step "train" that has begun `attempts` attempts.
std::string run_with_step(RunStore& store, int attempts = 0) {
    std::string id = create_run(store);
    BOOST_TEST_REQUIRE(store.add_step(id, "train", "job", "h1"), store.last_error());
    for (int i = 0; i < attempts; ++i) BOOST_TEST_REQUIRE(store.begin_attempt(id, "train", 0).has_value());
    return id;
}

NewModel model(RunStore& store, const std::string& name, const std::string& hash) {
    NewModel m;
    m.name = name;
    m.hash = hash;
    m.path = store.registry_folder() / name / hash;
    m.bytes = 1234;
    m.run_id = "run-1";
    m.step = "register";
    m.source_step = "train";
    m.source_attempt = 1;
    m.description = "a bird classifier";
    m.tags_json = R"({"team":"vision"})";
    m.metrics_json = R"({"val_acc":0.91})";
    return m;
}

const StepRecord& step_named(const std::vector<StepRecord>& steps, const std::string& name) {
    for (const StepRecord& step : steps) {
        if (step.name == name) return step;
    }
    BOOST_FAIL("no step " + name);
    return steps.front();
}

// Statements on the store's file through a connection of its own, as an older amlflow would.
void raw_exec(const fs::path& folder, const std::string& sql) {
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open((folder / "store.db").c_str(), &db) == SQLITE_OK);
    char* message = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    std::string error = message ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    BOOST_TEST_REQUIRE(rc == SQLITE_OK, error);
}

std::string raw_query(const fs::path& folder, const std::string& sql) {
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open((folder / "store.db").c_str(), &db) == SQLITE_OK);
    std::string result;
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK) {
        while (sqlite3_step(statement) == SQLITE_ROW) {
            if (!result.empty()) result += "\n";
            const unsigned char* text = sqlite3_column_text(statement, 0);
            result += text ? reinterpret_cast<const char*>(text) : "NULL";
        }
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return result;
}


}  // namespace

BOOST_AUTO_TEST_SUITE(run_store_results)

BOOST_AUTO_TEST_CASE(model_versions_count_up_per_name) {
    TempProject project;
    auto store = open_store(project.root());
    auto first = store->add_model(model(*store, "birds", "h1"));
    BOOST_TEST_REQUIRE(first.has_value(), store->last_error());
    BOOST_TEST(first->version == 1);
    BOOST_TEST(!first->existing);
    BOOST_TEST(first->created_ms > 0);
    auto second = store->add_model(model(*store, "birds", "h2"));
    BOOST_TEST_REQUIRE(second.has_value(), store->last_error());
    BOOST_TEST(second->version == 2);
    BOOST_TEST(!second->existing);
    auto third = store->add_model(model(*store, "birds", "h3"));
    BOOST_TEST_REQUIRE(third.has_value(), store->last_error());
    BOOST_TEST(third->version == 3);
}

BOOST_AUTO_TEST_CASE(registering_the_same_content_twice_creates_nothing) {
    TempProject project;
    auto store = open_store(project.root());
    BOOST_TEST_REQUIRE(store->add_model(model(*store, "birds", "h1")).has_value());
    BOOST_TEST_REQUIRE(store->add_model(model(*store, "birds", "h2")).has_value());
    NewModel again = model(*store, "birds", "h1");
    again.description = "registered again";
    again.run_id = "run-2";
    auto existing = store->add_model(again);
    BOOST_TEST_REQUIRE(existing.has_value(), store->last_error());
    BOOST_TEST(existing->existing);
    BOOST_TEST(existing->version == 1);
    BOOST_TEST(existing->description == "a bird classifier");  // the first registration's record
    BOOST_TEST(existing->run_id == "run-1");
    BOOST_TEST(existing->path == store->registry_folder() / "birds" / "h1");
    auto versions = store->list_models("birds");
    BOOST_TEST_REQUIRE(versions.has_value(), store->last_error());
    BOOST_TEST(versions->size() == 2u);
    BOOST_TEST(store->find_model("birds")->version == 2);  // the latest is still the latest

    // The same content under another name is that name's own first version.
    auto other = store->add_model(model(*store, "owls", "h1"));
    BOOST_TEST_REQUIRE(other.has_value(), store->last_error());
    BOOST_TEST(other->version == 1);
    BOOST_TEST(!other->existing);
}

BOOST_AUTO_TEST_CASE(a_model_round_trips_and_zero_means_the_latest) {
    TempProject project;
    auto store = open_store(project.root());
    BOOST_TEST_REQUIRE(store->add_model(model(*store, "birds", "h1")).has_value());
    NewModel second = model(*store, "birds", "h2");
    second.path = "/elsewhere/model.onnx";  // outside the store: kept absolute
    BOOST_TEST_REQUIRE(store->add_model(second).has_value());

    auto latest = store->find_model("birds");
    BOOST_TEST_REQUIRE(latest.has_value(), store->last_error());
    BOOST_TEST(latest->version == 2);
    BOOST_TEST(latest->hash == "h2");
    BOOST_TEST(latest->path == fs::path("/elsewhere/model.onnx"));

    auto first = store->find_model("birds", 1);
    BOOST_TEST_REQUIRE(first.has_value(), store->last_error());
    BOOST_TEST(first->name == "birds");
    BOOST_TEST(first->version == 1);
    BOOST_TEST(first->hash == "h1");
    BOOST_TEST(first->path == store->registry_folder() / "birds" / "h1");
    BOOST_TEST(first->bytes == 1234);
    BOOST_TEST(first->run_id == "run-1");
    BOOST_TEST(first->step == "register");
    BOOST_TEST(first->source_step == "train");
    BOOST_TEST(first->source_attempt == 1);
    BOOST_TEST(first->description == "a bird classifier");
    BOOST_TEST(first->tags_json == R"({"team":"vision"})");
    BOOST_TEST(first->metrics_json == R"({"val_acc":0.91})");
    BOOST_TEST(first->created_ms > 0);
    BOOST_TEST(!first->existing);
    // Inside the store the path is kept relative, so a moved store still finds it.
    BOOST_TEST(raw_query(project.root(), "SELECT path FROM model WHERE version = 1") == "registry/birds/h1");
}

BOOST_AUTO_TEST_CASE(a_missing_model_says_so) {
    TempProject project;
    auto store = open_store(project.root());
    BOOST_TEST(!store->find_model("birds").has_value());
    BOOST_TEST(store->last_error() == "cannot find model 'birds': it is not registered in this store");
    BOOST_TEST_REQUIRE(store->add_model(model(*store, "birds", "h1")).has_value());
    BOOST_TEST(!store->find_model("birds", 2).has_value());
    BOOST_TEST(store->last_error() == "cannot find model 'birds' version 2: it is not registered in this store");
    BOOST_TEST(!store->find_model("bird").has_value());
}

BOOST_AUTO_TEST_CASE(models_are_listed_by_name_then_version) {
    TempProject project;
    auto store = open_store(project.root());
    for (const auto& [name, hash] : std::vector<std::pair<std::string, std::string>>{
             {"owls", "a"}, {"birds", "b"}, {"owls", "c"}, {"birds", "d"}, {"ants", "e"}}) {
        BOOST_TEST_REQUIRE(store->add_model(model(*store, name, hash)).has_value(), store->last_error());
    }
    auto all = store->list_models();
    BOOST_TEST_REQUIRE(all.has_value(), store->last_error());
    std::vector<std::string> seen;
    for (const ModelRecord& m : *all) seen.push_back(m.name + ":" + std::to_string(m.version) + ":" + m.hash);
    BOOST_TEST((seen == std::vector<std::string>{"ants:1:e", "birds:1:b", "birds:2:d", "owls:1:a", "owls:2:c"}));
    BOOST_TEST((*all)[0].path == store->registry_folder() / "ants" / "e");
    auto owls = store->list_models("owls");
    BOOST_TEST_REQUIRE(owls.has_value());
    BOOST_TEST(owls->size() == 2u);
    BOOST_TEST(store->list_models("none")->empty());
}

BOOST_AUTO_TEST_CASE(a_step_result_round_trips_and_must_be_json) {
    TempProject project;
    auto store = open_store(project.root());
    std::string id = run_with_step(*store);
    BOOST_TEST_REQUIRE(store->add_step(id, "other", "job", "h2"));
    BOOST_TEST(store->steps_of(id)->front().result_json.empty());  // none yet
    const std::string result = R"({"best":{"trial":"tune[3]","value":0.12}})";
    BOOST_TEST_REQUIRE(store->set_step_result(id, "train", result), store->last_error());
    auto steps = store->steps_of(id);
    BOOST_TEST_REQUIRE(steps.has_value(), store->last_error());
    BOOST_TEST(step_named(*steps, "train").result_json == result);
    BOOST_TEST(step_named(*steps, "other").result_json.empty());

    BOOST_TEST(!store->set_step_result(id, "train", "{not json"));
    BOOST_TEST(contains(store->last_error(), "cannot record the result of step 'train'"), store->last_error());
    BOOST_TEST(step_named(*store->steps_of(id), "train").result_json == result);

    BOOST_TEST(!store->set_step_result(id, "missing", "{}"));
    BOOST_TEST(contains(store->last_error(), "no such step"), store->last_error());

    BOOST_TEST_REQUIRE(store->set_step_result(id, "train", ""), store->last_error());  // cleared
    BOOST_TEST(step_named(*store->steps_of(id), "train").result_json.empty());
}

BOOST_AUTO_TEST_CASE(step_outputs_can_point_at_another_runs_folder) {
    TempProject project;
    auto store = open_store(project.root());
    std::string id = run_with_step(*store);
    BOOST_TEST(store->steps_of(id)->front().outputs == store->step_outputs(id, "train"));
    fs::path elsewhere = store->step_outputs("20260101-000000-abcd", "train");
    BOOST_TEST_REQUIRE(store->set_step_outputs(id, "train", elsewhere), store->last_error());
    BOOST_TEST(store->steps_of(id)->front().outputs == elsewhere);
    BOOST_TEST(raw_query(project.root(), "SELECT outputs FROM step") == "runs/20260101-000000-abcd/train/outputs");
    BOOST_TEST(!store->set_step_outputs(id, "missing", elsewhere));
    BOOST_TEST(contains(store->last_error(), "cannot record the outputs of step 'missing'"), store->last_error());
}

BOOST_AUTO_TEST_CASE(a_reset_step_is_pending_again_with_its_attempts_kept) {
    TempProject project;
    auto store = open_store(project.root());
    std::string earlier = create_run(*store);
    std::string id = run_with_step(*store, 1);
    BOOST_TEST_REQUIRE(store->finish_attempt(id, "train", 0, AttemptState::Succeeded));
    BOOST_TEST_REQUIRE(store->set_step_state(id, "train", StepState::Cached, earlier), store->last_error());
    BOOST_TEST_REQUIRE(store->set_step_result(id, "train", R"({"a":1})"));
    StepRecord before = store->steps_of(id)->front();
    BOOST_TEST(before.finished_ms > 0);
    BOOST_TEST(before.cached_from == earlier);

    BOOST_TEST_REQUIRE(store->reset_step(id, "train"), store->last_error());
    StepRecord after = store->steps_of(id)->front();
    BOOST_TEST((after.state == StepState::Pending));
    BOOST_TEST(after.finished_ms == 0);
    BOOST_TEST(after.cached_from.empty());
    BOOST_TEST(after.result_json.empty());
    BOOST_TEST(after.attempts == 1);
    BOOST_TEST(store->attempts_of(id, "train")->size() == 1u);

    BOOST_TEST(!store->reset_step(id, "missing"));
    BOOST_TEST(contains(store->last_error(), "cannot reset step 'missing'"), store->last_error());
}

BOOST_AUTO_TEST_CASE(logged_params_round_trip_with_the_later_attempt_winning) {
    TempProject project;
    auto store = open_store(project.root());
    std::string id = run_with_step(*store, 2);
    BOOST_TEST(store->params_of(id, "train")->empty());
    BOOST_TEST_REQUIRE(store->add_params(id, "train", 0, 0, Params{{"lr", "0.1"}, {"opt", "\"sgd\""}}),
                       store->last_error());
    BOOST_TEST_REQUIRE(store->add_params(id, "train", 0, 1, Params{{"lr", "0.5"}, {"rank_only", "true"}}),
                       store->last_error());
    auto params = store->params_of(id, "train");
    BOOST_TEST_REQUIRE(params.has_value(), store->last_error());
    // By name; within an attempt rank 0 wins over rank 1.
    BOOST_TEST((*params == Params{{"lr", "0.1"}, {"opt", "\"sgd\""}, {"rank_only", "true"}}));

    BOOST_TEST_REQUIRE(store->add_params(id, "train", 1, 1, Params{{"lr", "0.05"}}), store->last_error());
    BOOST_TEST((*store->params_of(id, "train") == Params{{"lr", "0.05"}, {"opt", "\"sgd\""}, {"rank_only", "true"}}));
    BOOST_TEST_REQUIRE(store->add_params(id, "train", 1, 0, Params{{"lr", "0.01"}}), store->last_error());
    BOOST_TEST_REQUIRE(store->add_params(id, "train", 1, 0, Params{{"opt", "\"adam\""}}), store->last_error());
    BOOST_TEST((*store->params_of(id, "train") == Params{{"lr", "0.01"}, {"opt", "\"adam\""}, {"rank_only", "true"}}));

    BOOST_TEST(store->add_params(id, "train", 0, 0, {}));  // nothing to record
}

BOOST_AUTO_TEST_CASE(params_are_refused_for_a_missing_step_bad_json_or_no_attempt) {
    TempProject project;
    auto store = open_store(project.root());
    std::string id = run_with_step(*store, 1);
    BOOST_TEST(!store->add_params(id, "missing", 0, 0, Params{{"lr", "1"}}));
    BOOST_TEST(store->last_error() == "cannot record the params of step 'missing' of run '" + id + "': no such step");
    BOOST_TEST(!store->add_params(id, "train", 0, 0, Params{{"good", "1"}, {"lr", "{oops"}}));
    BOOST_TEST(contains(store->last_error(), "cannot record the params of step 'train'"), store->last_error());
    BOOST_TEST(store->params_of(id, "train")->empty());  // one transaction: "good" went too
    BOOST_TEST(!store->add_params(id, "train", 5, 0, Params{{"lr", "1"}}));  // attempt 5 never began
    BOOST_TEST(store->check_integrity(), store->last_error());
}

BOOST_AUTO_TEST_CASE(a_version_1_store_is_upgraded_keeping_its_runs) {
    TempProject project;
    fs::path folder = project.root() / ".amlflow";
    fs::create_directories(folder);
    raw_exec(folder, store_schema_v1());
    raw_exec(folder, "PRAGMA user_version = 1;");
    raw_exec(folder,
             "INSERT INTO run VALUES ('20250101-000000-abcd', '/p/old.amlflow', 'ph', '{}', '{}',"
             " 'succeeded', 1000, 2000, 0, '0.1.0');"
             "INSERT INTO step (id, run_id, name, kind, hash, state, started_ms, finished_ms, outputs)"
             " VALUES (1, '20250101-000000-abcd', 'train', 'job', 'h1', 'succeeded', 1100, 1900,"
             " 'runs/20250101-000000-abcd/train/outputs');"
             "INSERT INTO attempt VALUES (1, 0, 'succeeded', 1100, 1900, 29500, NULL,"
             " 'runs/20250101-000000-abcd/train/attempt-0');"
             "INSERT INTO metric (step_id, attempt, rank, name, value, step_index, time_ms)"
             " VALUES (1, 0, 0, 'loss', 0.5, 3, 1500);");
    BOOST_TEST_REQUIRE(raw_query(folder, "PRAGMA user_version") == "1");

    auto store = open_store(folder);
    BOOST_TEST(raw_query(folder, "PRAGMA user_version") == std::to_string(RunStore::kSchemaVersion));
    std::string tables = raw_query(folder, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    BOOST_TEST(contains(tables, "logged_param"), tables);
    BOOST_TEST(contains(tables, "\nmodel\n"), tables);

    auto run = store->find_run("20250101");
    BOOST_TEST_REQUIRE(run.has_value(), store->last_error());
    BOOST_TEST(run->file == "/p/old.amlflow");
    BOOST_TEST((run->state == RunState::Succeeded));
    auto steps = store->steps_of(run->id);
    BOOST_TEST_REQUIRE(steps.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(steps->size() == 1u);
    BOOST_TEST((steps->front().state == StepState::Succeeded));
    BOOST_TEST(steps->front().result_json.empty());
    BOOST_TEST(steps->front().outputs == folder / "runs/20250101-000000-abcd/train/outputs");
    auto metrics = store->metrics_of(run->id, "train");
    BOOST_TEST_REQUIRE(metrics.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(metrics->size() == 1u);
    BOOST_TEST(metrics->front().value == 0.5);

    // What version 2 adds works on the upgraded store.
    BOOST_TEST(store->set_step_result(run->id, "train", R"({"ok":true})"), store->last_error());
    BOOST_TEST(store->add_params(run->id, "train", 0, 0, Params{{"lr", "0.1"}}), store->last_error());
    BOOST_TEST(store->add_model(model(*store, "birds", "h1")).has_value(), store->last_error());
    BOOST_TEST(store->check_integrity(), store->last_error());
    // And what version 3 adds: the run table was rebuilt with its steps kept, and the
    // new states can be written.
    BOOST_TEST(run->supervisor_pid == 0);
    BOOST_TEST(store->set_run_state(run->id, RunState::Running));
    BOOST_TEST((store->record_abandoned(run->id) == RunState::Interrupted), store->last_error());
    BOOST_TEST((store->find_run(run->id)->state == RunState::Interrupted));
    BOOST_TEST(store->steps_of(run->id)->size() == 1u);
    BOOST_TEST(store->check_integrity(), store->last_error());

    // And reopening it does not upgrade again.
    store.reset();
    auto again = open_store(folder);
    BOOST_TEST(again->steps_of("20250101-000000-abcd")->front().result_json == R"({"ok":true})");
    BOOST_TEST(again->find_model("birds").has_value(), again->last_error());
}

// Version 4: a trial that a sweep's policy stopped, which version 2 kept as 'canceled'
// (and named "stopped" only in the sweep's result), becomes 'stopped early', its last
// attempt too; a trial a person canceled stays canceled; rows that refer to the rebuilt
// tables (ranks, metrics, params, cache keys) keep pointing at them.
BOOST_AUTO_TEST_CASE(a_version_2_store_gets_stopped_early_and_run_options) {
    TempProject project;
    fs::path folder = project.root() / ".amlflow";
    fs::create_directories(folder);
    raw_exec(folder, store_schema_v1());
    raw_exec(folder, store_schema_v2_upgrade());
    raw_exec(folder, "PRAGMA user_version = 2;");
    const std::string run = "20250101-000000-abcd";
    raw_exec(folder,
             "INSERT INTO run VALUES ('" + run + "', '/p/s.amlflow', 'ph', '{}', '{}', 'succeeded', 1000, 2000, 0, '0.2');"
             "INSERT INTO step (id, run_id, name, kind, hash, state, outputs, result_json) VALUES"
             " (1, '" + run + "', 'tune', 'sweep', 'h', 'succeeded', 'o', '{\"best\":\"tune[0]\",\"trials\":["
             "{\"name\":\"tune[0]\",\"state\":\"succeeded\"},{\"name\":\"tune[1]\",\"state\":\"stopped\"},"
             "{\"name\":\"tune[2]\",\"state\":\"canceled\"}]}'),"
             " (2, '" + run + "', 'tune[0]', 'trial', 'h0', 'succeeded', 'o', NULL),"
             " (3, '" + run + "', 'tune[1]', 'trial', 'h1', 'canceled', 'o', NULL),"
             " (4, '" + run + "', 'tune[2]', 'trial', 'h2', 'canceled', 'o', NULL);"
             "INSERT INTO attempt VALUES (2, 0, 'succeeded', 1, 2, 1, NULL, 'l'), (3, 0, 'failed', 1, 2, 1, NULL, 'l'),"
             " (3, 1, 'canceled', 1, 2, 1, NULL, 'l'), (4, 0, 'canceled', 1, 2, 1, NULL, 'l');"
             "INSERT INTO rank VALUES (3, 1, 0, 0, 0, 77, 1, 2, NULL, 15, 'r');"
             "INSERT INTO metric (step_id, attempt, rank, name, value, step_index, time_ms) VALUES (3, 1, 0, 'acc', 0.1, 0, 1);"
             "INSERT INTO cache_key VALUES ('k', 2, 1);");

    auto store = open_store(folder);
    BOOST_TEST(raw_query(folder, "PRAGMA user_version") == std::to_string(RunStore::kSchemaVersion));
    auto steps = store->steps_of(run);
    BOOST_TEST_REQUIRE(steps.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(steps->size() == 4u);
    BOOST_TEST((steps->at(1).state == StepState::Succeeded));
    BOOST_TEST((steps->at(2).state == StepState::StoppedEarly));
    BOOST_TEST((steps->at(3).state == StepState::Canceled));  // a person stopped it: kept
    BOOST_TEST(to_string(steps->at(2).state) == std::string("stopped early"));
    auto stopped = store->attempts_of(run, "tune[1]");
    BOOST_TEST_REQUIRE(stopped.has_value(), store->last_error());
    BOOST_TEST((stopped->at(0).state == AttemptState::Failed));
    BOOST_TEST((stopped->at(1).state == AttemptState::StoppedEarly));
    BOOST_TEST((store->attempts_of(run, "tune[2]")->at(0).state == AttemptState::Canceled));
    auto sweep = json::parse(steps->at(0).result_json);
    BOOST_TEST(sweep["trials"][1]["state"] == "stopped early");
    BOOST_TEST(sweep["trials"][2]["state"] == "canceled");
    BOOST_TEST(sweep["trials"][0]["name"] == "tune[0]");
    BOOST_TEST(sweep["best"] == "tune[0]");
    BOOST_TEST(store->ranks_of(run, "tune[1]", 1)->at(0).pid == 77);
    BOOST_TEST(store->metrics_of(run, "tune[1]")->size() == 1u);
    BOOST_TEST(store->find_cache_key("k")->step == "tune[0]");
    BOOST_TEST(store->find_run(run)->options_json == "{}");
    BOOST_TEST(store->set_run_options(run, R"({"force":true})"), store->last_error());
    BOOST_TEST(store->find_run(run)->options_json == R"({"force":true})");
    BOOST_TEST(store->check_integrity(), store->last_error());
    // Foreign keys hold after the rebuild: deleting the run still cascades.
    raw_exec(folder, "PRAGMA foreign_keys = ON; DELETE FROM run;");
    BOOST_TEST(raw_query(folder, "SELECT count(*) FROM attempt") == "0");
}

// A resumed Azure ML run follows each step's latest job while it may still run; a step
// whose latest job ended, or that never had one, is not followed (its job is not live).
BOOST_AUTO_TEST_CASE(a_steps_latest_submitted_job_is_the_live_one) {
    TempProject project;
    std::string error;
    std::vector<RemoteJob> written = {
        {"train", 1, "job-a1", "", "Failed", {}},      {"train", 2, "job-a2", "", "submitted", {}},
        {"prep", 1, "job-p1", "", "submitted", {}},    {"prep", 1, "job-p1", "", "Completed", {{"Running", 3.0}}},
        {"eval", 1, "job-e1", "", "submitted", {}},    {"eval", 2, "job-e2", "", "Canceled", {}},
    };
    for (const RemoteJob& job : written) BOOST_REQUIRE_MESSAGE(record_remote_job(project.root(), job, &error), error);
    std::vector<RemoteJob> jobs = read_remote_jobs(project.root());
    BOOST_TEST(jobs.size() == 5u);  // job-p1's record is updated in place
    std::map<std::string, std::string> live = live_remote_jobs(jobs);
    BOOST_TEST(live.size() == 1u);
    BOOST_TEST(live["train"] == "job-a2");
}

BOOST_AUTO_TEST_SUITE_END()
