#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>

// The run store against real SQLite in temporary folders: every record kind read back as
// written, lookups and listings, the layout of artifact folders, readers beside a writer,
// and a writer process killed with SIGKILL mid-write.
#include <sqlite3.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/store/run_liveness.h"
#include "runtime/store/run_store.h"

namespace fs = std::filesystem;
using namespace amlflow::runtime;

namespace {

class TempFolder {
public:
    TempFolder() {
        std::string pattern = (fs::temp_directory_path() / "amlflow-store-XXXXXX").string();
        BOOST_TEST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
        root_ = pattern;
    }
    ~TempFolder() {
        std::error_code ignored;
        fs::remove_all(root_, ignored);
    }
    TempFolder(const TempFolder&) = delete;
    TempFolder& operator=(const TempFolder&) = delete;
    const fs::path& root() const { return root_; }

private:
    fs::path root_;
};

std::unique_ptr<RunStore> open_store(const fs::path& folder) {
    std::string error;
    auto store = RunStore::open(folder, &error);
    BOOST_TEST_REQUIRE(bool(store), error);
    return store;
}

NewRun new_run(const std::string& file = "/p/birds.amlflow") {
    NewRun run;
    run.file = file;
    run.plan_hash = "abc123";
    run.plan_json = R"({"nodes":[{"id":"step:train"}],"edges":[]})";
    run.params_json = R"({"epochs":3})";
    run.sets = {"epochs=3", "base_lr=0.01"};
    run.version = "0.1.0";
    return run;
}

std::string create(RunStore& store, const NewRun& run = new_run()) {
    auto id = store.create_run(run);
    BOOST_TEST_REQUIRE(id.has_value(), store.last_error());
    return *id;
}

// One value from a raw SQLite connection on the store's file, independent of RunStore.
std::string raw_pragma(const fs::path& folder, const std::string& pragma) {
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open((folder / "store.db").c_str(), &db) == SQLITE_OK);
    std::string result;
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, pragma.c_str(), -1, &statement, nullptr) == SQLITE_OK) {
        while (sqlite3_step(statement) == SQLITE_ROW) {
            if (!result.empty()) result += "\n";
            result += reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
        }
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return result;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(run_store)

BOOST_AUTO_TEST_CASE(opening_creates_a_versioned_schema_in_wal_mode) {
    TempFolder temp;
    fs::path folder = temp.root() / "nested" / ".amlflow";
    auto store = open_store(folder);
    BOOST_TEST(fs::exists(folder / "store.db"));
    BOOST_TEST(store->folder() == folder);
    BOOST_TEST(raw_pragma(folder, "PRAGMA journal_mode") == "wal");
    BOOST_TEST(raw_pragma(folder, "PRAGMA user_version") == std::to_string(RunStore::kSchemaVersion));
    std::string tables =
        raw_pragma(folder, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    BOOST_TEST(tables == "attempt\ncache_key\nlogged_param\nmetric\nmodel\nrank\nrun\nrun_set\nstep\nverified_environment");
    BOOST_TEST(store->check_integrity(), store->last_error());
    store.reset();
    open_store(folder);  // reopening an existing store leaves it as it is
    BOOST_TEST(raw_pragma(folder, "PRAGMA user_version") == std::to_string(RunStore::kSchemaVersion));
}

BOOST_AUTO_TEST_CASE(a_store_from_a_newer_amlflow_is_refused) {
    TempFolder temp;
    open_store(temp.root());
    raw_pragma(temp.root(), "PRAGMA user_version = 99");
    std::string error;
    BOOST_TEST(!RunStore::open(temp.root(), &error));
    BOOST_TEST(contains(error, "newer amlflow (schema version 99"), error);
}

BOOST_AUTO_TEST_CASE(must_exist_does_not_create_a_store) {
    TempFolder temp;
    std::string error;
    BOOST_TEST(!RunStore::open(temp.root() / "none", &error, OpenMode::MustExist));
    BOOST_TEST(contains(error, "no run store at"), error);
    BOOST_TEST(!fs::exists(temp.root() / "none"));
    BOOST_TEST(!RunStore::open(temp.root() / "none", nullptr, OpenMode::MustExist));
}

BOOST_AUTO_TEST_CASE(a_run_round_trips) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::string id = create(*store);
    BOOST_TEST(id.size() == 20u);  // YYYYMMDD-HHMMSS-xxxx
    BOOST_TEST(id[8] == '-');
    BOOST_TEST(id[15] == '-');
    auto run = store->find_run(id);
    BOOST_TEST_REQUIRE(run.has_value(), store->last_error());
    BOOST_TEST(run->id == id);
    BOOST_TEST(run->file == "/p/birds.amlflow");
    BOOST_TEST(run->plan_hash == "abc123");
    BOOST_TEST(run->plan_json == new_run().plan_json);
    BOOST_TEST(run->params_json == R"({"epochs":3})");
    BOOST_TEST(run->version == "0.1.0");
    BOOST_TEST((run->sets == std::vector<std::string>{"epochs=3", "base_lr=0.01"}));
    BOOST_TEST((run->state == RunState::Running));
    BOOST_TEST(run->created_ms > 0);
    BOOST_TEST(run->finished_ms == 0);
    BOOST_TEST(run->exit_code == -1);

    BOOST_TEST_REQUIRE(store->set_run_state(id, RunState::Failed, 2), store->last_error());
    run = store->find_run(id);
    BOOST_TEST((run->state == RunState::Failed));
    BOOST_TEST(run->exit_code == 2);
    BOOST_TEST(run->finished_ms >= run->created_ms);

    // --resume puts a run back to running: its end is not known any more.
    BOOST_TEST_REQUIRE(store->set_run_state(id, RunState::Running), store->last_error());
    run = store->find_run(id);
    BOOST_TEST((run->state == RunState::Running));
    BOOST_TEST(run->finished_ms == 0);
    BOOST_TEST(run->exit_code == -1);

    BOOST_TEST(!store->set_run_state("20000101-000000-0000", RunState::Canceled, 130));
    BOOST_TEST(contains(store->last_error(), "no such run"), store->last_error());
}

// The end of a run with its last step: both records in one commit, or neither (a step
// that is not there leaves the run running, as it was).
BOOST_AUTO_TEST_CASE(a_run_ends_with_its_last_step_in_one_commit) {
    TempFolder temp;
    auto store = open_store(temp.root());
    auto id = store->create_run(new_run());
    BOOST_TEST_REQUIRE(id.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(store->add_step(*id, "train", "job", "h1"), store->last_error());
    BOOST_TEST_REQUIRE(store->set_step_state(*id, "train", StepState::Running), store->last_error());
    store->sync_ahead();  // no effect on what is recorded, before or after

    BOOST_TEST(!store->finish_run_with_step(*id, "nope", StepState::Succeeded, RunState::Succeeded, 0));
    BOOST_TEST(contains(store->last_error(), "no such step"), store->last_error());
    BOOST_TEST((store->find_run(*id)->state == RunState::Running));

    BOOST_TEST_REQUIRE(store->finish_run_with_step(*id, "train", StepState::Succeeded, RunState::Succeeded, 0),
                       store->last_error());
    // What another process reads: a connection of its own.
    auto reader = open_store(temp.root());
    auto run = reader->find_run(*id);
    BOOST_TEST_REQUIRE(run.has_value(), reader->last_error());
    BOOST_TEST((run->state == RunState::Succeeded));
    BOOST_TEST(run->exit_code == 0);
    BOOST_TEST(run->finished_ms >= run->created_ms);
    auto steps = reader->steps_of(*id);
    BOOST_TEST_REQUIRE(steps->size() == 1u);
    BOOST_TEST((steps->at(0).state == StepState::Succeeded));
    BOOST_TEST(steps->at(0).finished_ms >= steps->at(0).started_ms);
    BOOST_TEST(!store->finish_run_with_step("20000101-000000-0000", "train", StepState::Succeeded,
                                            RunState::Succeeded, 0));
}

// A run is created locked; while its lock is held it stays running, once nobody holds it
// the next look records it interrupted (detached with a remote job), and the kernel's lock
// table names the holder.
BOOST_AUTO_TEST_CASE(a_run_whose_lock_nobody_holds_is_settled) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::optional<RunLock> lock;
    auto id = store->create_run(new_run(), &lock);
    BOOST_TEST_REQUIRE(id.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(lock.has_value());
    auto run = store->find_run(*id);
    BOOST_TEST(run->supervisor_pid == static_cast<int64_t>(getpid()));
    BOOST_TEST(RunLock::holder(store->run_folder(*id)) == getpid());
    std::string why;
    BOOST_TEST(live_supervisor(*store, *run, &why) == getpid(), why);
    BOOST_TEST(settle_abandoned_runs(*store).empty());  // flock: another open file, refused
    BOOST_TEST((store->find_run(*id)->state == RunState::Running));
    store->add_step(*id, "train", "job", "h");
    store->begin_attempt(*id, "train", 29500);

    std::string remote = create(*store);
    BOOST_TEST_REQUIRE(store->set_remote_job(remote, "amlflow-job-1"), store->last_error());

    lock.reset();
    BOOST_TEST(RunLock::holder(store->run_folder(*id)) == 0);
    BOOST_TEST(live_supervisor(*store, *store->find_run(*id), &why) == 0);
    auto settled = settle_abandoned_runs(*store);
    BOOST_TEST(settled.size() == 2u);
    BOOST_TEST((store->find_run(*id)->state == RunState::Interrupted));
    BOOST_TEST(store->find_run(*id)->exit_code == -1);
    BOOST_TEST((store->steps_of(*id)->front().state == StepState::Canceled));
    BOOST_TEST((store->attempts_of(*id, "train")->front().state == AttemptState::Canceled));
    BOOST_TEST(contains(store->attempts_of(*id, "train")->front().failure_json, "interrupted"));
    BOOST_TEST((store->find_run(remote)->state == RunState::Detached));
    BOOST_TEST(store->find_run(remote)->remote_job == "amlflow-job-1");
    BOOST_TEST(settle_abandoned_runs(*store).empty());  // once
    BOOST_TEST(store->check_integrity(), store->last_error());
}

BOOST_AUTO_TEST_CASE(text_is_bound_never_spliced_into_sql) {
    TempFolder temp;
    auto store = open_store(temp.root());
    NewRun run = new_run("/p/it's \"x\"; DROP TABLE run; --.amlflow");
    run.sets = {"name='); DELETE FROM run; --", "é=ü"};
    std::string id = create(*store, run);
    auto back = store->find_run(id);
    BOOST_TEST_REQUIRE(back.has_value(), store->last_error());
    BOOST_TEST(back->file == run.file);
    BOOST_TEST((back->sets == run.sets));
}

BOOST_AUTO_TEST_CASE(invalid_json_is_refused_with_a_message) {
    TempFolder temp;
    auto store = open_store(temp.root());
    NewRun run = new_run();
    run.plan_json = "{not json";
    BOOST_TEST(!store->create_run(run).has_value());
    BOOST_TEST(contains(store->last_error(), "cannot record a run of '/p/birds.amlflow'"),
               store->last_error());
    auto runs = store->list_runs(0);
    BOOST_TEST_REQUIRE(runs.has_value());
    BOOST_TEST(runs->empty());  // nothing half-written: the sets went with the run
}

BOOST_AUTO_TEST_CASE(a_unique_prefix_finds_a_run_and_an_ambiguous_one_says_why) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::string a = create(*store);
    std::string b = create(*store);
    BOOST_TEST_REQUIRE(a != b);
    size_t common = 0;
    while (a[common] == b[common]) ++common;
    auto found = store->find_run(a.substr(0, common + 1));
    BOOST_TEST_REQUIRE(found.has_value(), store->last_error());
    BOOST_TEST(found->id == a);
    found = store->find_run(b.substr(0, common + 1));
    BOOST_TEST_REQUIRE(found.has_value(), store->last_error());
    BOOST_TEST(found->id == b);

    BOOST_TEST(!store->find_run(a.substr(0, common)).has_value());
    std::string error = store->last_error();
    BOOST_TEST(contains(error, "is ambiguous"), error);
    BOOST_TEST(contains(error, a), error);
    BOOST_TEST(contains(error, b), error);

    BOOST_TEST(!store->find_run("1999").has_value());
    BOOST_TEST(store->last_error() == "no run matches '1999'");
    BOOST_TEST(!store->find_run("").has_value());
    BOOST_TEST(!store->last_error().empty());
}

BOOST_AUTO_TEST_CASE(runs_are_listed_newest_first) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(create(*store, new_run("/p/" + std::to_string(i))));
    auto runs = store->list_runs(0);
    BOOST_TEST_REQUIRE(runs.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(runs->size() == 4u);
    for (int i = 0; i < 4; ++i) {
        BOOST_TEST((*runs)[i].id == ids[3 - i]);
        BOOST_TEST((*runs)[i].file == "/p/" + std::to_string(3 - i));
        BOOST_TEST((*runs)[i].plan_json.empty());  // listings leave the plan out
        BOOST_TEST((*runs)[i].sets.size() == 2u);
    }
    for (size_t i = 1; i < runs->size(); ++i) {
        BOOST_TEST((*runs)[i - 1].created_ms >= (*runs)[i].created_ms);
    }
    runs = store->list_runs(2);
    BOOST_TEST_REQUIRE(runs->size() == 2u);
    BOOST_TEST((*runs)[0].id == ids[3]);
}

BOOST_AUTO_TEST_CASE(steps_round_trip_through_their_states) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::string earlier = create(*store);
    std::string id = create(*store);
    BOOST_TEST_REQUIRE(store->add_step(id, "train", "job", "h1"), store->last_error());
    BOOST_TEST_REQUIRE(store->add_step(id, "birds", "register", "h2"), store->last_error());
    BOOST_TEST_REQUIRE(store->add_step(id, "export", "export", "h3"), store->last_error());

    auto steps = store->steps_of(id);
    BOOST_TEST_REQUIRE(steps.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(steps->size() == 3u);
    const StepRecord& first = (*steps)[0];
    BOOST_TEST(first.run_id == id);
    BOOST_TEST(first.name == "train");
    BOOST_TEST(first.kind == "job");
    BOOST_TEST(first.hash == "h1");
    BOOST_TEST((first.state == StepState::Pending));
    BOOST_TEST(first.started_ms == 0);
    BOOST_TEST(first.attempts == 0);
    BOOST_TEST(first.outputs == store->folder() / "runs" / id / "train" / "outputs");
    BOOST_TEST((*steps)[1].name == "birds");  // the order they were added

    BOOST_TEST_REQUIRE(store->set_step_state(id, "train", StepState::Running));
    BOOST_TEST_REQUIRE(store->set_step_state(id, "train", StepState::Succeeded));
    BOOST_TEST_REQUIRE(store->set_step_state(id, "birds", StepState::Cached, earlier),
                       store->last_error());
    BOOST_TEST_REQUIRE(store->set_step_state(id, "export", StepState::Skipped));
    steps = store->steps_of(id);
    BOOST_TEST((steps->at(0).state == StepState::Succeeded));
    BOOST_TEST(steps->at(0).started_ms > 0);
    BOOST_TEST(steps->at(0).finished_ms >= steps->at(0).started_ms);
    BOOST_TEST((steps->at(1).state == StepState::Cached));
    BOOST_TEST(steps->at(1).cached_from == earlier);
    BOOST_TEST((steps->at(2).state == StepState::Skipped));
    BOOST_TEST(steps->at(2).cached_from.empty());

    BOOST_TEST(!store->add_step(id, "train", "job", "h1"));
    BOOST_TEST(contains(store->last_error(), "already has that step"), store->last_error());
    BOOST_TEST(!store->add_step("20000101-000000-0000", "train", "job", "h1"));
    BOOST_TEST(contains(store->last_error(), "no such run"), store->last_error());
    BOOST_TEST(!store->set_step_state(id, "nope", StepState::Failed));
    BOOST_TEST(contains(store->last_error(), "no such step"), store->last_error());
    BOOST_TEST(!store->set_step_state(id, "birds", StepState::Cached, "20000101-000000-0000"));
    BOOST_TEST(contains(store->last_error(), "to reuse from"), store->last_error());
    BOOST_TEST(!store->add_step(id, "../escape", "job", "h"));
    BOOST_TEST(contains(store->last_error(), "as a folder name"), store->last_error());
}

BOOST_AUTO_TEST_CASE(attempts_are_numbered_from_zero_and_start_their_step) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::string id = create(*store);
    BOOST_TEST_REQUIRE(store->add_step(id, "train", "job", "h"));
    auto first = store->begin_attempt(id, "train", 29500);
    BOOST_TEST_REQUIRE(first.has_value(), store->last_error());
    BOOST_TEST(*first == 0);
    const std::string failure = R"({"root_cause_rank":1,"exit_code":null,"signal":9,)"
                                R"("reason":"signal","log_tail":"Killed\n"})";
    BOOST_TEST_REQUIRE(store->finish_attempt(id, "train", 0, AttemptState::Failed, failure),
                       store->last_error());
    auto second = store->begin_attempt(id, "train", 29501);
    BOOST_TEST_REQUIRE(second.has_value(), store->last_error());
    BOOST_TEST(*second == 1);
    BOOST_TEST_REQUIRE(store->finish_attempt(id, "train", 1, AttemptState::Succeeded));

    auto steps = store->steps_of(id);
    BOOST_TEST((steps->at(0).state == StepState::Running));  // the executor finishes steps
    BOOST_TEST(steps->at(0).attempts == 2);

    auto attempts = store->attempts_of(id, "train");
    BOOST_TEST_REQUIRE(attempts.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(attempts->size() == 2u);
    const AttemptRecord& a0 = attempts->at(0);
    BOOST_TEST(a0.run_id == id);
    BOOST_TEST(a0.step == "train");
    BOOST_TEST(a0.number == 0);
    BOOST_TEST((a0.state == AttemptState::Failed));
    BOOST_TEST(a0.master_port == 29500);
    BOOST_TEST(a0.failure_json == failure);
    BOOST_TEST(a0.started_ms > 0);
    BOOST_TEST(a0.finished_ms >= a0.started_ms);
    BOOST_TEST(a0.logs == store->folder() / "runs" / id / "train" / "attempt-1");  // named as shown: from 1
    BOOST_TEST(fs::is_directory(a0.logs));
    BOOST_TEST((attempts->at(1).state == AttemptState::Succeeded));
    BOOST_TEST(attempts->at(1).failure_json.empty());
    BOOST_TEST(attempts->at(1).master_port == 29501);

    BOOST_TEST(!store->finish_attempt(id, "train", 7, AttemptState::Failed));
    BOOST_TEST(contains(store->last_error(), "no such attempt"), store->last_error());
    BOOST_TEST(!store->finish_attempt(id, "train", 1, AttemptState::Failed, "{oops"));
    BOOST_TEST(!store->begin_attempt(id, "nope", 1).has_value());
    BOOST_TEST(contains(store->last_error(), "no such step"), store->last_error());

    // A port taken where the ranks meet: the attempt records the one they got.
    BOOST_TEST_REQUIRE(store->set_attempt_port(id, "train", 1, 31000), store->last_error());
    BOOST_TEST(store->attempts_of(id, "train")->at(1).master_port == 31000);
    BOOST_TEST(!store->set_attempt_port(id, "train", 9, 31000));
    BOOST_TEST(contains(store->last_error(), "no such attempt"), store->last_error());
}

BOOST_AUTO_TEST_CASE(ranks_round_trip) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::string id = create(*store);
    BOOST_TEST_REQUIRE(store->add_step(id, "train", "job", "h"));
    BOOST_TEST_REQUIRE(store->begin_attempt(id, "train", 29500).has_value());
    for (int r = 0; r < 2; ++r) {
        RankRecord rank;
        rank.run_id = id;
        rank.step = "train";
        rank.attempt = 0;
        rank.global_rank = r;
        rank.local_rank = r;
        rank.node_rank = 0;
        rank.pid = 4000 + r;
        rank.started_ms = r == 0 ? 1000 : 0;  // 0: stamped now
        if (r == 1) rank.log_file = temp.root() / "elsewhere" / "r1.log";
        if (r == 1) rank.host = "node2";  // a `hosts` rank: its pid is node2's
        BOOST_TEST_REQUIRE(store->add_rank(rank), store->last_error());
    }
    BOOST_TEST_REQUIRE(store->finish_rank(id, "train", 0, 0, -1, 9, 2000), store->last_error());
    BOOST_TEST_REQUIRE(store->finish_rank(id, "train", 0, 1, 0, 0), store->last_error());

    auto ranks = store->ranks_of(id, "train", 0);
    BOOST_TEST_REQUIRE(ranks.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(ranks->size() == 2u);
    const RankRecord& r0 = ranks->at(0);
    BOOST_TEST(r0.run_id == id);
    BOOST_TEST(r0.step == "train");
    BOOST_TEST(r0.attempt == 0);
    BOOST_TEST(r0.global_rank == 0);
    BOOST_TEST(r0.pid == 4000);
    BOOST_TEST(r0.started_ms == 1000);
    BOOST_TEST(r0.finished_ms == 2000);
    BOOST_TEST(r0.exit_code == -1);
    BOOST_TEST(r0.signal == 9);
    BOOST_TEST(r0.log_file == store->rank_log(id, "train", 0, 0));
    BOOST_TEST(r0.host.empty());
    const RankRecord& r1 = ranks->at(1);
    BOOST_TEST(r1.started_ms > 1000);
    BOOST_TEST(r1.exit_code == 0);
    BOOST_TEST(r1.signal == 0);
    BOOST_TEST(r1.log_file == temp.root() / "elsewhere" / "r1.log");  // outside: kept absolute
    BOOST_TEST(r1.host == "node2");

    RankRecord duplicate = r0;
    BOOST_TEST(!store->add_rank(duplicate));
    BOOST_TEST(contains(store->last_error(), "already recorded"), store->last_error());
    duplicate.attempt = 5;
    BOOST_TEST(!store->add_rank(duplicate));
    BOOST_TEST(contains(store->last_error(), "no such attempt"), store->last_error());
    BOOST_TEST(!store->finish_rank(id, "train", 0, 9, 0, 0));
    BOOST_TEST(contains(store->last_error(), "no such rank"), store->last_error());
}

BOOST_AUTO_TEST_CASE(metrics_round_trip_and_a_bad_batch_records_nothing) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::string id = create(*store);
    BOOST_TEST_REQUIRE(store->add_step(id, "train", "job", "h"));
    BOOST_TEST_REQUIRE(store->begin_attempt(id, "train", 29500).has_value());
    auto metric = [&](const std::string& name, double value, int64_t index) {
        MetricRecord m;
        m.run_id = id;
        m.step = "train";
        m.rank = 1;
        m.name = name;
        m.value = value;
        m.step_index = index;
        return m;
    };
    BOOST_TEST_REQUIRE(store->add_metrics({metric("loss", 0.5, 1), metric("val_acc", 0.75, -1),
                                           metric("loss", std::nan(""), 2)}),
                       store->last_error());
    MetricRecord timed = metric("loss", 0.25, 3);
    timed.time_ms = 12345;
    BOOST_TEST_REQUIRE(store->add_metric(timed), store->last_error());

    auto all = store->metrics_of(id, "train");
    BOOST_TEST_REQUIRE(all.has_value(), store->last_error());
    BOOST_TEST_REQUIRE(all->size() == 4u);
    BOOST_TEST(all->at(0).name == "loss");
    BOOST_TEST(all->at(0).value == 0.5);
    BOOST_TEST(all->at(0).rank == 1);
    BOOST_TEST(all->at(0).attempt == 0);
    BOOST_TEST(all->at(0).step_index == 1);
    BOOST_TEST(all->at(0).time_ms > 0);
    BOOST_TEST(all->at(1).step_index == -1);
    BOOST_TEST(std::isnan(all->at(2).value));
    BOOST_TEST(all->at(3).time_ms == 12345);
    auto losses = store->metrics_of(id, "train", "loss");
    BOOST_TEST_REQUIRE(losses.has_value());
    BOOST_TEST(losses->size() == 3u);

    MetricRecord orphan = metric("loss", 1, 4);
    orphan.attempt = 3;
    BOOST_TEST(!store->add_metrics({metric("loss", 9, 9), orphan}));
    BOOST_TEST(contains(store->last_error(), "no attempt 3"), store->last_error());
    MetricRecord lost = metric("loss", 1, 4);
    lost.step = "nope";
    BOOST_TEST(!store->add_metric(lost));
    BOOST_TEST(contains(store->last_error(), "no such step"), store->last_error());
    BOOST_TEST(store->metrics_of(id, "train")->size() == 4u);
}

BOOST_AUTO_TEST_CASE(cache_keys_point_at_the_latest_step_that_answered_them) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::string a = create(*store);
    std::string b = create(*store);
    BOOST_TEST_REQUIRE(store->add_step(a, "train", "job", "hash-1"));
    BOOST_TEST_REQUIRE(store->add_step(b, "train", "job", "hash-1"));
    BOOST_TEST(!store->find_cache_key("hash-1").has_value());
    BOOST_TEST(contains(store->last_error(), "no cached result"), store->last_error());

    BOOST_TEST_REQUIRE(store->put_cache_key("hash-1", a, "train"), store->last_error());
    auto entry = store->find_cache_key("hash-1");
    BOOST_TEST_REQUIRE(entry.has_value(), store->last_error());
    BOOST_TEST(entry->hash == "hash-1");
    BOOST_TEST(entry->run_id == a);
    BOOST_TEST(entry->step == "train");
    BOOST_TEST(entry->created_ms > 0);

    BOOST_TEST_REQUIRE(store->put_cache_key("hash-1", b, "train"), store->last_error());
    BOOST_TEST(store->find_cache_key("hash-1")->run_id == b);
    BOOST_TEST(!store->put_cache_key("hash-2", b, "nope"));
    BOOST_TEST(contains(store->last_error(), "no such step"), store->last_error());
}

BOOST_AUTO_TEST_CASE(artifact_folders_are_created_on_demand_inside_the_store) {
    TempFolder temp;
    auto store = open_store(temp.root());
    std::string id = create(*store);
    fs::path runs = store->folder() / "runs";
    BOOST_TEST(store->run_folder(id) == runs / id);
    BOOST_TEST(store->step_outputs(id, "train") == runs / id / "train" / "outputs");
    BOOST_TEST(store->step_checkpoints(id, "train") == runs / id / "train" / "checkpoints");
    // Attempt number 2 (from 0) is the third attempt: its folder is named as users count.
    BOOST_TEST(store->attempt_logs(id, "train", 2) == runs / id / "train" / "attempt-3");
    BOOST_TEST(store->rank_log(id, "train", 2, 7) ==
               runs / id / "train" / "attempt-3" / "rank-7.log");
    for (const char* sub : {"outputs", "checkpoints", "attempt-3"}) {
        BOOST_TEST(fs::is_directory(runs / id / "train" / sub), sub);
    }
    BOOST_TEST(!fs::exists(runs / id / "train" / "attempt-3" / "rank-7.log"));
    for (const std::string bad : {"..", ".", "", "a/b", "a\\b"}) {
        BOOST_TEST(store->step_outputs(id, bad).empty(), bad);
        BOOST_TEST(contains(store->last_error(), "folder name"), store->last_error());
    }
    BOOST_TEST(store->run_folder("..").empty());
}

BOOST_AUTO_TEST_CASE(a_moved_store_still_finds_its_artifacts) {
    TempFolder temp;
    std::string id;
    {
        auto store = open_store(temp.root() / "a" / ".amlflow");
        id = create(*store);
        BOOST_TEST_REQUIRE(store->add_step(id, "train", "job", "h"));
        BOOST_TEST_REQUIRE(store->begin_attempt(id, "train", 1).has_value());
    }
    fs::rename(temp.root() / "a", temp.root() / "b");
    auto store = open_store(temp.root() / "b" / ".amlflow");
    BOOST_TEST(store->steps_of(id)->at(0).outputs ==
               store->folder() / "runs" / id / "train" / "outputs");
    fs::path logs = store->attempts_of(id, "train")->at(0).logs;
    BOOST_TEST(logs == store->folder() / "runs" / id / "train" / "attempt-1");
    BOOST_TEST(fs::is_directory(logs));
}

BOOST_AUTO_TEST_CASE(the_default_store_is_beside_the_file_unless_amlflow_home_is_set) {
    const char* saved = std::getenv("AMLFLOW_HOME");
    std::string saved_value = saved ? saved : "";
    unsetenv("AMLFLOW_HOME");
    BOOST_TEST(default_store_folder("/work/proj/birds.amlflow") == fs::path("/work/proj/.amlflow"));
    BOOST_TEST(default_store_folder("birds.amlflow") == fs::current_path() / ".amlflow");
    setenv("AMLFLOW_HOME", "/srv/amlflow-home", 1);
    BOOST_TEST(default_store_folder("/work/proj/birds.amlflow") == fs::path("/srv/amlflow-home"));
    setenv("AMLFLOW_HOME", "", 1);  // empty counts as unset
    BOOST_TEST(default_store_folder("/work/proj/birds.amlflow") == fs::path("/work/proj/.amlflow"));
    if (saved) {
        setenv("AMLFLOW_HOME", saved_value.c_str(), 1);
    } else {
        unsetenv("AMLFLOW_HOME");
    }
}

BOOST_AUTO_TEST_SUITE_END()

// Readers and writers on one store, and a writer that dies at an arbitrary instant.
BOOST_AUTO_TEST_SUITE(run_store_durability)

BOOST_AUTO_TEST_CASE(a_second_store_on_the_folder_reads_what_the_writer_committed) {
    TempFolder temp;
    auto writer = open_store(temp.root());
    auto reader = open_store(temp.root());
    std::string id = create(*writer);
    auto seen = reader->find_run(id);
    BOOST_TEST_REQUIRE(seen.has_value(), reader->last_error());
    BOOST_TEST((seen->state == RunState::Running));
    BOOST_TEST_REQUIRE(writer->add_step(id, "train", "job", "h"));
    BOOST_TEST_REQUIRE(writer->set_run_state(id, RunState::Succeeded, 0));
    seen = reader->find_run(id);
    BOOST_TEST((seen->state == RunState::Succeeded));
    BOOST_TEST(reader->steps_of(id)->size() == 1u);
    BOOST_TEST(reader->list_runs(10)->size() == 1u);
    // And the other way round: the reader's connection can write too.
    std::string other = create(*reader);
    BOOST_TEST(writer->find_run(other).has_value());
}

BOOST_AUTO_TEST_CASE(an_open_read_does_not_block_the_writer) {
    TempFolder temp;
    auto writer = open_store(temp.root());
    create(*writer);
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open((temp.root() / "store.db").c_str(), &db) == SQLITE_OK);
    auto count = [&] {
        sqlite3_stmt* statement = nullptr;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM run", -1, &statement, nullptr);
        sqlite3_step(statement);
        int n = sqlite3_column_int(statement, 0);
        sqlite3_finalize(statement);
        return n;
    };
    BOOST_TEST_REQUIRE(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK);
    BOOST_TEST(count() == 1);  // the read transaction now holds a snapshot
    create(*writer);           // would wait out busy_timeout and fail without WAL
    BOOST_TEST(count() == 1);
    BOOST_TEST_REQUIRE(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    BOOST_TEST(count() == 2);
    sqlite3_close(db);
}

namespace {

// The child: writes the whole life of one run after another, and after each call that
// committed, says so on the pipe. Lines are shorter than PIPE_BUF, so each write is
// atomic and the parent never reads half a line.
[[noreturn]] void write_until_killed(const fs::path& folder, int fd) {
    auto store = RunStore::open(folder, nullptr);
    if (!store) _exit(3);
    auto say = [fd](const std::string& what, const std::string& id) {
        std::string line = what + " " + id + "\n";
        if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
    };
    for (int i = 0;; ++i) {
        std::string hash = "hash-" + std::to_string(getpid()) + "-" + std::to_string(i);
        auto id = store->create_run(new_run());
        if (!id) _exit(4);
        say("run", *id);
        if (!store->add_step(*id, "train", "job", hash)) _exit(4);
        say("step", *id);
        if (!store->begin_attempt(*id, "train", 29500 + i % 100)) _exit(4);
        say("attempt", *id);
        RankRecord rank;
        rank.run_id = *id;
        rank.step = "train";
        rank.pid = getpid();
        if (!store->add_rank(rank)) _exit(4);
        say("rank", *id);
        std::vector<MetricRecord> metrics(5);
        for (size_t k = 0; k < metrics.size(); ++k) {
            metrics[k].run_id = *id;
            metrics[k].step = "train";
            metrics[k].name = "loss";
            metrics[k].value = 1.0 / (k + 1);
            metrics[k].step_index = static_cast<int64_t>(k);
        }
        if (!store->add_metrics(metrics)) _exit(4);
        say("metrics", *id);
        if (!store->finish_rank(*id, "train", 0, 0, 0, 0)) _exit(4);
        if (!store->finish_attempt(*id, "train", 0, AttemptState::Succeeded)) _exit(4);
        if (!store->set_step_state(*id, "train", StepState::Succeeded)) _exit(4);
        say("succeeded", *id);
        if (!store->put_cache_key(hash, *id, "train")) _exit(4);
        say("cached", *id + " " + hash);
        if (!store->set_run_state(*id, RunState::Succeeded, 0)) _exit(4);
        say("finished", *id);
    }
}

// Runs a writer child, reads its reports, and SIGKILLs it once `kill_after` lines have
// come (half-way, a second store reads the latest reported run while the child writes).
// Returns every line the child reported, including those still in the pipe at the kill.
std::vector<std::string> run_writer_and_kill(const fs::path& folder, size_t kill_after) {
    int fds[2];
    BOOST_TEST_REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        write_until_killed(folder, fds[1]);
    }
    close(fds[1]);
    FILE* in = fdopen(fds[0], "r");
    std::vector<std::string> lines;
    char buffer[256];
    bool killed = false;
    while (fgets(buffer, sizeof buffer, in)) {
        std::string line(buffer);
        if (line.empty() || line.back() != '\n') break;
        line.pop_back();
        lines.push_back(line);
        if (lines.size() == kill_after / 2 + 1) {
            auto reader = open_store(folder);
            std::string id = line.substr(line.find(' ') + 1, 20);
            BOOST_TEST(reader->find_run(id).has_value(), reader->last_error());
        }
        if (!killed && lines.size() >= kill_after) {
            kill(pid, SIGKILL);
            killed = true;
        }
    }
    fclose(in);
    int status = 0;
    BOOST_TEST_REQUIRE(waitpid(pid, &status, 0) == pid);
    BOOST_TEST_REQUIRE(WIFSIGNALED(status), "the writer exited with " << WEXITSTATUS(status));
    BOOST_TEST(WTERMSIG(status) == SIGKILL);
    return lines;
}

// Every record a report line names must be in the store.
void check_reported(RunStore& store, const std::string& line) {
    std::istringstream words(line);
    std::string what, id, hash;
    words >> what >> id >> hash;
    auto run = store.find_run(id);
    BOOST_TEST_REQUIRE(run.has_value(), line << ": " << store.last_error());
    if (what == "step") BOOST_TEST(store.steps_of(id)->size() == 1u, line);
    if (what == "attempt") BOOST_TEST(store.attempts_of(id, "train")->size() == 1u, line);
    if (what == "rank") BOOST_TEST(store.ranks_of(id, "train", 0)->size() == 1u, line);
    if (what == "metrics") BOOST_TEST(store.metrics_of(id, "train", "loss")->size() == 5u, line);
    if (what == "succeeded") {
        BOOST_TEST((store.steps_of(id)->at(0).state == StepState::Succeeded), line);
    }
    if (what == "cached") {
        auto entry = store.find_cache_key(hash);
        BOOST_TEST((entry && entry->run_id == id), line);
    }
    if (what == "finished") {
        BOOST_TEST((run->state == RunState::Succeeded && run->exit_code == 0), line);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(processes_opening_a_new_store_at_once_all_succeed) {
    // Two `amlflow run`s started together in a fresh project race to create the schema.
    TempFolder temp;
    fs::path folder = temp.root() / ".amlflow";
    std::vector<pid_t> children;
    for (int i = 0; i < 4; ++i) {
        pid_t pid = fork();
        BOOST_TEST_REQUIRE(pid >= 0);
        if (pid == 0) {
            auto store = RunStore::open(folder, nullptr);
            _exit(store && store->create_run(new_run()) ? 0 : 1);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        BOOST_TEST_REQUIRE(waitpid(pid, &status, 0) == pid);
        BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    BOOST_TEST(open_store(folder)->list_runs(0)->size() == 4u);
}

BOOST_AUTO_TEST_CASE(a_writer_killed_at_any_moment_loses_no_committed_record) {
    TempFolder temp;
    open_store(temp.root());  // the schema exists before any child races to create it
    size_t reported_runs = 0, rounds = 0;
    // Different kill points land in different calls of the cycle of eight reports.
    for (size_t kill_after : {3u, 38u, 201u, 612u, 1029u}) {
        std::vector<std::string> lines = run_writer_and_kill(temp.root(), kill_after);
        ++rounds;
        BOOST_TEST(lines.size() >= kill_after);
        BOOST_TEST(raw_pragma(temp.root(), "PRAGMA integrity_check") == "ok");
        auto store = open_store(temp.root());
        BOOST_TEST(store->check_integrity(), store->last_error());
        for (const std::string& line : lines) {
            check_reported(*store, line);
            if (line.compare(0, 4, "run ") == 0) ++reported_runs;
        }
        // At most one run per kill was committed but not yet reported.
        size_t stored = store->list_runs(0)->size();
        BOOST_TEST(stored >= reported_runs);
        BOOST_TEST(stored <= reported_runs + rounds);
        reported_runs = stored;
        // The store takes writes again at once: no lock outlived the writer.
        create(*store);
        ++reported_runs;
    }
}

BOOST_AUTO_TEST_SUITE_END()
