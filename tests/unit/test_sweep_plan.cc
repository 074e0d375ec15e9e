#include <boost/test/unit_test.hpp>

// Sweeps as data: the trials drawn from a search space (seeded, grid, typed, defaulted),
// each trial as a job step, the objective, and the early-stop policies' decisions.
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "runtime/exec/sweep_plan.h"

using namespace amlflow::runtime;
using nlohmann::json;

namespace {

json choice(json values) { return json{{"$kind", "choice"}, {"values", std::move(values)}}; }

// A sweep over `space` whose template declares lr (float, default 0.1), batch (int,
// default 32) and seed (int, default 7, not in any space below).
StepPlan sweep(json space, const std::string& sampling = "random", int trials = 6,
               const std::string& hash = "hash-one") {
    StepPlan plan;
    plan.id = "step:tune";
    plan.name = "tune";
    plan.kind = "sweep";
    plan.experiment = "exp";
    plan.hash = hash;
    plan.environment = "environment:torch";
    plan.compute = "compute:here";
    plan.source = "src";
    plan.spec = {
        {"$environment", "environment:torch"},
        {"$compute", "compute:here"},
        {"$source", "source:src"},
        {"$template",
         {{"name", "train"},
          {"params",
           json::array({{{"name", "lr"}, {"type", "float"}, {"default", 0.1}},
                        {{"name", "batch"}, {"type", "int"}, {"default", 32}},
                        {{"name", "seed"}, {"type", "int"}, {"default", 7}}})},
          {"fields",
           {{"script", {{"$path", "train.py"}}},
            {"args", json::array({"--lr", {{"$param", "lr"}}, "--batch", {{"$param", "batch"}}})},
            {"env", {{"SEED", {{"$param", "seed"}}}, {"KEEP", {{"$param", "unknown"}}}}},
            {"metrics", json::array({"loss"})}}}}},
        {"space", std::move(space)},
        {"sampling", sampling},
        {"trials", trials},
        {"objective", {{"$kind", "minimize"}, {"metric", "loss"}}},
    };
    return plan;
}

json lr_and_batch() {
    return json{{"lr", {{"$kind", "loguniform"}, {"low", 0.001}, {"high", 0.5}}},
                {"batch", choice({16, 32, 64})}};
}

std::vector<Trial> draw(const StepPlan& plan) {
    std::string error;
    auto trials = draw_trials(plan, &error);
    BOOST_TEST_REQUIRE(trials.has_value(), error);
    return *trials;
}

std::vector<json> params_of(const std::vector<Trial>& trials) {
    std::vector<json> out;
    for (const Trial& trial : trials) out.push_back(trial.params);
    return out;
}

// A series reported at steps 0, 1, ...
Series series(std::vector<double> values) {
    Series out;
    for (size_t i = 0; i < values.size(); ++i) out.emplace_back(static_cast<int64_t>(i), values[i]);
    return out;
}

StepPlan with_policy(json policy, const std::string& objective = "minimize") {
    StepPlan plan = sweep(lr_and_batch());
    plan.spec["early_stop"] = std::move(policy);
    plan.spec["objective"] = {{"$kind", objective}, {"metric", "loss"}};
    return plan;
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

BOOST_AUTO_TEST_SUITE(sweep_plan)

BOOST_AUTO_TEST_CASE(random_sampling_is_seeded_by_the_sweep_hash) {
    std::vector<Trial> first = draw(sweep(lr_and_batch()));
    std::vector<Trial> again = draw(sweep(lr_and_batch()));
    std::vector<Trial> other = draw(sweep(lr_and_batch(), "random", 6, "hash-two"));
    BOOST_TEST_REQUIRE(first.size() == 6u);
    BOOST_TEST(first[0].name == "tune[0]");
    BOOST_TEST(first[5].name == "tune[5]");
    BOOST_TEST(first[5].index == 5);
    BOOST_TEST((params_of(first) == params_of(again)));
    BOOST_TEST((params_of(first) != params_of(other)));
    std::set<double> rates;
    for (const Trial& trial : first) {
        double lr = trial.params["lr"].get<double>();
        BOOST_TEST(lr >= 0.001);
        BOOST_TEST(lr <= 0.5);
        rates.insert(lr);
        int64_t batch = trial.params["batch"].get<int64_t>();
        BOOST_TEST((batch == 16 || batch == 32 || batch == 64));
    }
    BOOST_TEST(rates.size() == 6u);  // a continuous draw does not repeat itself
}

BOOST_AUTO_TEST_CASE(params_outside_the_space_get_their_defaults) {
    std::vector<Trial> trials = draw(sweep(lr_and_batch()));
    for (const Trial& trial : trials) {
        BOOST_TEST(trial.params["seed"] == json(7));
        BOOST_TEST(trial.params.size() == 3u);
    }
    std::vector<Trial> only_lr = draw(sweep(json{{"lr", choice({0.5})}}, "random", 2));
    BOOST_TEST(only_lr[0].params["batch"] == json(32));
    BOOST_TEST(only_lr[1].params["lr"] == json(0.5));
}

BOOST_AUTO_TEST_CASE(int_typed_params_get_integers) {
    json space = {{"batch", {{"$kind", "quniform"}, {"low", 8.0}, {"high", 64.0}, {"q", 8.0}}},
                  {"seed", {{"$kind", "randint"}, {"upper", 5}}}};
    for (const Trial& trial : draw(sweep(space, "random", 8))) {
        BOOST_TEST(trial.params["batch"].is_number_integer(), trial.params.dump());
        BOOST_TEST(trial.params["batch"].get<int64_t>() % 8 == 0);
        BOOST_TEST(trial.params["seed"].is_number_integer());
        BOOST_TEST(trial.params["seed"].get<int64_t>() >= 0);
        BOOST_TEST(trial.params["seed"].get<int64_t>() < 5);
        BOOST_TEST(trial.params["lr"].is_number_float());  // the default, left a float
    }
}

BOOST_AUTO_TEST_CASE(grid_walks_every_combination) {
    json space = {{"batch", choice({16, 32})}, {"lr", choice({0.1, 0.01, 0.001})}};
    std::vector<Trial> trials = draw(sweep(space, "grid", 100));
    BOOST_TEST_REQUIRE(trials.size() == 6u);
    std::set<std::string> seen;
    for (const Trial& trial : trials) seen.insert(trial.params["batch"].dump() + "/" + trial.params["lr"].dump());
    BOOST_TEST(seen.size() == 6u);
    BOOST_TEST(seen.count("16/0.001") == 1u);
    BOOST_TEST(seen.count("32/0.1") == 1u);
}

BOOST_AUTO_TEST_CASE(grid_is_capped_by_trials_and_covers_randint) {
    json space = {{"seed", {{"$kind", "randint"}, {"upper", 3}}}, {"batch", choice({16, 32})}};
    BOOST_TEST(draw(sweep(space, "grid", 100)).size() == 6u);
    std::vector<Trial> capped = draw(sweep(space, "grid", 4));
    BOOST_TEST_REQUIRE(capped.size() == 4u);
    std::set<int64_t> seeds;
    for (const Trial& trial : draw(sweep(space, "grid", 100))) seeds.insert(trial.params["seed"].get<int64_t>());
    BOOST_TEST((seeds == std::set<int64_t>{0, 1, 2}));
}

BOOST_AUTO_TEST_CASE(grid_over_a_continuous_range_is_an_error) {
    std::string error;
    auto trials = draw_trials(sweep(lr_and_batch(), "grid"), &error);
    BOOST_TEST(!trials.has_value());
    BOOST_TEST(error.find("'lr'") != std::string::npos, error);
    BOOST_TEST(error.find("loguniform") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(a_trial_step_binds_every_param_reference) {
    StepPlan plan = sweep(lr_and_batch());
    Trial trial;
    trial.index = 2;
    trial.name = "tune[2]";
    trial.params = {{"lr", 0.02}, {"batch", 64}, {"seed", 7}};
    StepPlan step = trial_step(plan, trial);
    BOOST_TEST(step.name == "tune[2]");
    BOOST_TEST(step.id == "step:tune[2]");
    BOOST_TEST(step.kind == "job");
    BOOST_TEST(step.experiment == "exp");
    BOOST_TEST(step.spec["args"] == json::array({"--lr", 0.02, "--batch", 64}));
    BOOST_TEST(step.spec["env"]["SEED"] == json(7));  // nested in an object too
    // A reference to no template param is left as it is.
    BOOST_TEST(step.spec["env"]["KEEP"] == json({{"$param", "unknown"}}));
    BOOST_TEST(step.spec["script"] == json({{"$path", "train.py"}}));
    BOOST_TEST(step.spec["$environment"] == json("environment:torch"));
    BOOST_TEST(step.spec["$compute"] == json("compute:here"));
    BOOST_TEST(step.spec["$source"] == json("source:src"));
    BOOST_TEST(step.environment == "environment:torch");
    BOOST_TEST(step.compute == "compute:here");
    BOOST_TEST(step.source == "src");
    BOOST_TEST(!step.spec.contains("space"));
    BOOST_TEST(step.spec.dump().find("$param\":\"lr") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_trial_hash_depends_on_its_values_and_the_sweep) {
    StepPlan plan = sweep(lr_and_batch());
    Trial a{0, "tune[0]", {{"lr", 0.02}, {"batch", 64}, {"seed", 7}}};
    Trial same_values{3, "tune[3]", a.params};
    Trial b{1, "tune[1]", {{"lr", 0.03}, {"batch", 64}, {"seed", 7}}};
    std::string hash = trial_step(plan, a).hash;
    BOOST_TEST(hash.size() == 64u);
    BOOST_TEST(hash != plan.hash);
    BOOST_TEST(trial_step(plan, same_values).hash == hash);  // same values: cacheable
    BOOST_TEST(trial_step(plan, b).hash != hash);
    StepPlan changed = sweep(lr_and_batch(), "random", 6, "hash-two");
    BOOST_TEST(trial_step(changed, a).hash != hash);
}

BOOST_AUTO_TEST_CASE(the_objective_defaults_to_maximize) {
    Objective minimize = objective_of(sweep(lr_and_batch()));
    BOOST_TEST(minimize.metric == "loss");
    BOOST_TEST(!minimize.maximize);
    BOOST_TEST(minimize.better(0.1, 0.2));
    BOOST_TEST(!minimize.better(0.2, 0.1));
    StepPlan plan = sweep(lr_and_batch());
    plan.spec["objective"] = {{"$kind", "maximize"}, {"metric", "acc"}};
    Objective maximize = objective_of(plan);
    BOOST_TEST(maximize.metric == "acc");
    BOOST_TEST(maximize.maximize);
    BOOST_TEST(maximize.better(0.9, 0.8));
    plan.spec.erase("objective");
    BOOST_TEST(objective_of(plan).maximize);
    BOOST_TEST(objective_of(plan).metric == "");
}

BOOST_AUTO_TEST_CASE(no_policy_never_stops) {
    EarlyStop none(sweep(lr_and_batch()));
    BOOST_TEST(!none.enabled());
    std::string why;
    std::map<std::string, Series> all = {{"a", series({1, 1, 1})}, {"b", series({100, 100, 100})}};
    BOOST_TEST(!none.should_stop("b", all, &why));
    BOOST_TEST(!EarlyStop().enabled());
}

BOOST_AUTO_TEST_CASE(bandit_stops_outside_the_slack_of_the_best) {
    EarlyStop bandit(with_policy({{"$kind", "bandit"}, {"slack", 0.2}}));
    BOOST_TEST(bandit.enabled());
    std::string why;
    // minimize: the bound is 1.0 * 1.2 = 1.2
    std::map<std::string, Series> all = {{"best", series({1.0})}, {"near", series({1.15})}, {"far", series({1.3})}};
    BOOST_TEST(!bandit.should_stop("near", all, &why));
    BOOST_TEST(!bandit.should_stop("best", all, &why));
    BOOST_TEST(bandit.should_stop("far", all, &why));
    BOOST_TEST(why.find("slack") != std::string::npos, why);
    BOOST_TEST(why.find("loss") != std::string::npos, why);
    // Alone there is nothing to compare with.
    BOOST_TEST(!bandit.should_stop("far", {{"far", series({1.3})}}, &why));
    // An unknown trial is not stopped.
    BOOST_TEST(!bandit.should_stop("ghost", all, &why));
}

BOOST_AUTO_TEST_CASE(bandit_divides_by_the_slack_when_maximizing) {
    EarlyStop bandit(with_policy({{"$kind", "bandit"}, {"slack", 0.25}}, "maximize"));
    std::string why;
    // bound 1.0 / 1.25 = 0.8
    std::map<std::string, Series> all = {{"best", series({1.0})}, {"ok", series({0.85})}, {"bad", series({0.75})}};
    BOOST_TEST(!bandit.should_stop("ok", all, &why));
    BOOST_TEST(bandit.should_stop("bad", all, &why));
}

BOOST_AUTO_TEST_CASE(bandit_slack_lies_on_the_worse_side_of_a_negative_best) {
    std::string why;
    // minimize, best -1.0, slack 0.2: the bound is -0.8 (20% of |best| worse).
    EarlyStop minimize(with_policy({{"$kind", "bandit"}, {"slack", 0.2}}));
    std::map<std::string, Series> low = {{"best", series({-1.0})}, {"tied", series({-1.0})}, {"near", series({-0.85})},
                                         {"far", series({-0.7})}};
    BOOST_TEST(!minimize.should_stop("tied", low, &why), why);
    BOOST_TEST(!minimize.should_stop("near", low, &why), why);
    BOOST_TEST(minimize.should_stop("far", low, &why));
    // maximize, best -1.0, slack 0.25: the bound is -1.2, as 1.0 / 1.25 is 0.2 below 1.0.
    EarlyStop maximize(with_policy({{"$kind", "bandit"}, {"slack", 0.25}}, "maximize"));
    std::map<std::string, Series> high = {{"best", series({-1.0})}, {"near", series({-1.15})},
                                          {"far", series({-1.3})}};
    BOOST_TEST(!maximize.should_stop("better", {{"best", series({-1.0})}, {"better", series({-0.9})}}, &why), why);
    BOOST_TEST(!maximize.should_stop("near", high, &why), why);
    BOOST_TEST(maximize.should_stop("far", high, &why));
}

BOOST_AUTO_TEST_CASE(bandit_compares_at_the_same_count_of_reports) {
    EarlyStop bandit(with_policy({{"$kind", "bandit"}, {"slack", 0.1}}));
    std::string why;
    // The leader's later, better values are not held against a trial that has reported once.
    std::map<std::string, Series> all = {{"leader", series({2.0, 0.5, 0.1})}, {"new", series({2.1})}};
    BOOST_TEST(!bandit.should_stop("new", all, &why));
    all["new"] = series({2.1, 2.0});  // now compared with the leader's best of two: 0.5
    BOOST_TEST(bandit.should_stop("new", all, &why));
}

BOOST_AUTO_TEST_CASE(delay_and_interval_count_reported_values) {
    EarlyStop bandit(with_policy({{"$kind", "bandit"}, {"slack", 0.0}, {"delay", 2}, {"interval", 2}}));
    std::string why;
    std::map<std::string, Series> all = {{"best", series({1, 1, 1, 1, 1, 1})}};
    auto stops_after = [&](size_t reports) {
        all["bad"] = series(std::vector<double>(reports, 5.0));
        return bandit.should_stop("bad", all, &why);
    };
    BOOST_TEST(!stops_after(1));  // within the delay
    BOOST_TEST(!stops_after(2));
    BOOST_TEST(!stops_after(3));  // after the delay, but not on an interval boundary
    BOOST_TEST(stops_after(4));
    BOOST_TEST(!stops_after(5));
    BOOST_TEST(stops_after(6));
}

BOOST_AUTO_TEST_CASE(a_nan_objective_stops_its_trial) {
    EarlyStop median(with_policy({{"$kind", "median"}}));
    std::string why;
    std::map<std::string, Series> all = {{"diverged", series({1.0, kNaN})}};
    BOOST_TEST(median.should_stop("diverged", all, &why));  // even with no others
    BOOST_TEST(why.find("NaN") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(a_diverged_trial_does_not_stop_the_others) {
    // A trial whose objective was NaN from its first report stays in the series (it
    // was stopped); the healthy trials must still be judged against each other.
    std::string why;
    std::map<std::string, Series> all = {{"a-diverged", series({kNaN, kNaN})},
                                         {"good", series({1.0, 0.9})},
                                         {"fine", series({1.05, 0.95})},
                                         {"meh", series({1.1, 1.0})}};
    EarlyStop bandit(with_policy({{"$kind", "bandit"}, {"slack", 0.2}}));
    BOOST_TEST(!bandit.should_stop("fine", all, &why), why);
    BOOST_TEST(!bandit.should_stop("good", all, &why), why);
    // Of the three healthy trials "fine" beats one: not in the worst 30%.
    EarlyStop truncation(with_policy({{"$kind", "truncation"}, {"percent", 30}}));
    BOOST_TEST(!truncation.should_stop("fine", all, &why), why);
    BOOST_TEST(truncation.should_stop("meh", all, &why));
    EarlyStop median(with_policy({{"$kind", "median"}}));
    BOOST_TEST(!median.should_stop("good", all, &why), why);
}

BOOST_AUTO_TEST_CASE(median_stops_a_best_worse_than_the_others_running_means) {
    EarlyStop median(with_policy({{"$kind", "median"}}));
    std::string why;
    // Others' running means over two reports: 1.5, 2.5, 3.5 -> median 2.5 (minimize).
    std::map<std::string, Series> others = {{"a", series({2, 1})}, {"b", series({3, 2})}, {"c", series({4, 3})}};
    auto with = [&](const std::string& name, Series mine) {
        std::map<std::string, Series> all = others;
        all[name] = std::move(mine);
        return all;
    };
    BOOST_TEST(!median.should_stop("good", with("good", series({3, 2.4})), &why), why);
    BOOST_TEST(median.should_stop("bad", with("bad", series({3, 2.6})), &why));
    BOOST_TEST(why.find("median 2.5") != std::string::npos, why);
    // Its best counts, not its latest value.
    BOOST_TEST(!median.should_stop("bad", with("bad", series({2.0, 2.6})), &why), why);
    // A NaN among its earlier values is no best.
    BOOST_TEST(median.should_stop("late", with("late", series({kNaN, 3.0})), &why));
}

BOOST_AUTO_TEST_CASE(truncation_stops_the_worst_percent) {
    EarlyStop truncation(with_policy({{"$kind", "truncation"}, {"percent", 25}}, "maximize"));
    std::string why;
    std::map<std::string, Series> all = {{"a", series({0.9})}, {"b", series({0.8})}, {"c", series({0.7})},
                                         {"d", series({0.6})}};
    BOOST_TEST(truncation.should_stop("d", all, &why));  // worst of four: 0/4 below it
    BOOST_TEST(why.find("worst 25%") != std::string::npos, why);
    BOOST_TEST(!truncation.should_stop("c", all, &why));  // 1/4 below it
    BOOST_TEST(!truncation.should_stop("a", all, &why));
    EarlyStop half(with_policy({{"$kind", "truncation"}, {"percent", 50}}, "maximize"));
    BOOST_TEST(half.should_stop("c", all, &why));
    BOOST_TEST(!half.should_stop("b", all, &why));
}

BOOST_AUTO_TEST_SUITE_END()
