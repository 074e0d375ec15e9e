#include <boost/test/unit_test.hpp>

// Bayesian sampling (runtime/exec/tpe_sampler.h): TPE against amlflow's own random
// sampling on known functions over several fixed seeds, its determinism (same history,
// same draw; the history's order does not matter), which results a trial is conditioned
// on, and the values it gives for every kind of search-space function.
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <string>

#include "runtime/exec/sweep_plan.h"
#include "runtime/exec/tpe_sampler.h"

using namespace amlflow::runtime;
using nlohmann::json;

namespace {

using Function = std::function<double(const json&)>;

json uniform(double low, double high) { return {{"$kind", "uniform"}, {"low", low}, {"high", high}}; }
json loguniform(double low, double high) { return {{"$kind", "loguniform"}, {"low", low}, {"high", high}}; }

// A sweep over `space` whose template has a float parameter per swept name, as the
// compiler writes it: what draw_trials (random) and bayesian_sampler read.
StepPlan sweep_over(const json& space, const std::string& sampling, int trials, bool maximize,
                    const std::string& seed, int parallel = 1) {
    json params = json::array();
    for (auto it = space.begin(); it != space.end(); ++it) {
        std::string type = it.value().value("$kind", "") == "randint" ? "int" : "float";
        params.push_back({{"name", it.key()}, {"type", type}});
    }
    StepPlan plan;
    plan.name = "tune";
    plan.kind = "sweep";
    plan.hash = seed;
    plan.spec = {{"$template", {{"name", "train"}, {"params", params}, {"fields", json::object()}}},
                 {"space", space},
                 {"sampling", sampling},
                 {"trials", trials},
                 {"parallel", parallel},
                 {"objective", {{"$kind", maximize ? "maximize" : "minimize"}, {"metric", "score"}}}};
    return plan;
}

double better_of(bool maximize, double a, double b) { return maximize ? std::max(a, b) : std::min(a, b); }

// The best value of `trials` trials of amlflow's random sampling.
double random_best(const json& space, const Function& f, bool maximize, const std::string& seed, int trials) {
    std::string error;
    auto drawn = draw_trials(sweep_over(space, "random", trials, maximize, seed), &error);
    BOOST_TEST_REQUIRE(drawn.has_value(), error);
    double best = maximize ? -INFINITY : INFINITY;
    for (const Trial& trial : *drawn) best = better_of(maximize, best, f(trial.params));
    return best;
}

// A bayesian sweep run as the executor runs it: trial N drawn from the results of the
// trials below its history bound (with `parallel` trials in flight, the last ones unseen).
std::vector<TpeObservation> tpe_run(const json& space, const Function& f, bool maximize, const std::string& seed,
                                    int trials, int parallel = 1) {
    TpeSampler sampler = bayesian_sampler(sweep_over(space, "bayesian", trials, maximize, seed, parallel));
    std::vector<TpeObservation> done;
    for (int n = 0; n < trials; ++n) {
        int bound = tpe_history_bound(n, parallel, sampler.settings().startup);
        std::vector<TpeObservation> history(done.begin(), done.begin() + bound);
        json point = sampler.draw(n, history);
        done.push_back({n, point, f(point)});
    }
    return done;
}

double best_of(const std::vector<TpeObservation>& run, bool maximize) {
    double best = maximize ? -INFINITY : INFINITY;
    for (const TpeObservation& seen : run) best = better_of(maximize, best, seen.value);
    return best;
}

// TPE's best after `trials` against random sampling's, seed by seed: better on average
// and in most seeds.
void beats_random(const json& space, const Function& f, bool maximize, int parallel = 1) {
    const int trials = 30, seeds = 8;
    double tpe_sum = 0, random_sum = 0;
    int wins = 0;
    for (int s = 0; s < seeds; ++s) {
        std::string seed = "sweep-hash-" + std::to_string(s);
        double tpe = best_of(tpe_run(space, f, maximize, seed, trials, parallel), maximize);
        double random = random_best(space, f, maximize, seed, trials);
        BOOST_TEST_MESSAGE("seed " << s << ": tpe " << tpe << ", random " << random);
        tpe_sum += tpe;
        random_sum += random;
        if (better_of(maximize, tpe, random) == tpe && tpe != random) ++wins;
    }
    BOOST_TEST_MESSAGE("mean best: tpe " << tpe_sum / seeds << ", random " << random_sum / seeds << "; wins " << wins);
    BOOST_TEST((maximize ? tpe_sum > random_sum : tpe_sum < random_sum));
    BOOST_TEST(wins > seeds / 2);
}

double quadratic(const json& point) {
    double x = point["x"].get<double>(), y = point["y"].get<double>();
    return -(x - 0.3) * (x - 0.3) - (y - 0.7) * (y - 0.7);
}

// Minimal at lr = 10^-2.5, whatever the scale of the range below it.
double log_bowl(const json& point) {
    double l = std::log10(point["lr"].get<double>()), m = point["momentum"].get<double>();
    return (l + 2.5) * (l + 2.5) + (m - 0.9) * (m - 0.9);
}

json square() { return {{"x", uniform(0, 1)}, {"y", uniform(0, 1)}}; }
json lr_space() { return {{"lr", loguniform(1e-5, 1)}, {"momentum", uniform(0, 1)}}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(tpe_sampler)

BOOST_AUTO_TEST_CASE(beats_random_sampling_on_a_quadratic) { beats_random(square(), quadratic, true); }

BOOST_AUTO_TEST_CASE(beats_random_sampling_on_a_loguniform_bowl_when_minimizing) {
    beats_random(lr_space(), log_bowl, false);
}

BOOST_AUTO_TEST_CASE(beats_random_sampling_with_trials_in_parallel) { beats_random(square(), quadratic, true, 3); }

BOOST_AUTO_TEST_CASE(the_goal_decides_which_trials_are_good) {
    // The same function, minimized: TPE must go to the far corner (1, 0), not to (0.3, 0.7).
    auto run = tpe_run(square(), quadratic, false, "goal", 30);
    double worst = best_of(run, false);
    BOOST_TEST(worst < -0.8);  // the corner is -(0.7^2 + 0.7^2) = -0.98
    BOOST_TEST(best_of(tpe_run(square(), quadratic, true, "goal", 30), true) > -0.01);
}

BOOST_AUTO_TEST_CASE(choice_values_that_score_well_are_drawn_more) {
    json space = {{"batch", {{"$kind", "choice"}, {"values", {16, 32, 64, 128}}}}};
    auto score = [](const json& point) { return -std::fabs(std::log2(point["batch"].get<double>()) - 6); };
    auto run = tpe_run(space, score, true, "choice", 30);
    int best_drawn = 0;
    for (const TpeObservation& seen : run) best_drawn += seen.point["batch"] == 64;
    BOOST_TEST_MESSAGE("64 drawn " << best_drawn << " times in 30");
    BOOST_TEST(best_drawn > 15);  // random sampling: about 7.5
}

BOOST_AUTO_TEST_CASE(the_same_seed_and_history_give_the_same_draw_whatever_the_order) {
    auto run = tpe_run(lr_space(), log_bowl, false, "replay", 12);
    std::vector<TpeObservation> history(run.begin(), run.end());
    TpeSampler sampler = bayesian_sampler(sweep_over(lr_space(), "bayesian", 20, false, "replay"));
    json first = sampler.draw(12, history);
    BOOST_TEST(first == sampler.draw(12, history));
    TpeSampler again = bayesian_sampler(sweep_over(lr_space(), "bayesian", 20, false, "replay"));
    BOOST_TEST(first == again.draw(12, history));
    std::reverse(history.begin(), history.end());
    std::rotate(history.begin(), history.begin() + 5, history.end());
    BOOST_TEST(first == sampler.draw(12, history));
    // A whole run replays point by point.
    auto replay = tpe_run(lr_space(), log_bowl, false, "replay", 12);
    for (size_t i = 0; i < run.size(); ++i) BOOST_TEST(run[i].point == replay[i].point);
    // Another seed, or another result, another draw.
    TpeSampler other = bayesian_sampler(sweep_over(lr_space(), "bayesian", 20, false, "other"));
    BOOST_TEST(first != other.draw(12, history));
    history[3].value = -100;  // the best by far now: in the good group, whatever it was
    BOOST_TEST(first != sampler.draw(12, history));
}

BOOST_AUTO_TEST_CASE(startup_trials_are_random_and_ignore_results) {
    TpeSampler sampler = bayesian_sampler(sweep_over(square(), "bayesian", 30, true, "startup"));
    int startup = sampler.settings().startup;
    BOOST_TEST(startup == 5);
    auto run = tpe_run(square(), quadratic, true, "startup", 8);
    for (int n = 0; n < startup; ++n) BOOST_TEST(sampler.draw(n, run) == sampler.draw(n, {}));
    // After them, the results count; with no finished result at all, still random.
    BOOST_TEST(sampler.draw(startup, run) != sampler.draw(startup, {}));
    std::vector<TpeObservation> failed = {{0, run[0].point, NAN}};
    BOOST_TEST(sampler.draw(startup, failed) == sampler.draw(startup, {}));
}

BOOST_AUTO_TEST_CASE(a_trial_is_conditioned_on_all_but_the_trials_in_flight_before_it) {
    // parallel 1: every earlier trial; parallel 3: all but the 2 just before it.
    BOOST_TEST(tpe_history_bound(0, 1, 5) == 0);
    BOOST_TEST(tpe_history_bound(4, 1, 5) == 0);
    BOOST_TEST(tpe_history_bound(5, 1, 5) == 5);
    BOOST_TEST(tpe_history_bound(9, 1, 5) == 9);
    BOOST_TEST(tpe_history_bound(5, 3, 5) == 3);
    BOOST_TEST(tpe_history_bound(9, 3, 5) == 7);
    BOOST_TEST(tpe_history_bound(6, 8, 5) == 0);
    BOOST_TEST(tpe_history_bound(9, 0, 5) == 9);  // parallel below 1 counts as 1
}

BOOST_AUTO_TEST_CASE(draw_trials_gives_the_trials_drawn_before_any_result) {
    std::string error;
    auto first = draw_trials(sweep_over(square(), "bayesian", 30, true, "first"), &error);
    BOOST_TEST_REQUIRE(first.has_value());
    BOOST_TEST(first->size() == 5u);
    auto wide = draw_trials(sweep_over(square(), "bayesian", 30, true, "first", 8), &error);
    BOOST_TEST_REQUIRE(wide.has_value());
    BOOST_TEST(wide->size() == 8u);  // all of the first `parallel` start at once
    TpeSampler sampler = bayesian_sampler(sweep_over(square(), "bayesian", 30, true, "first"));
    for (const Trial& trial : *wide) {
        BOOST_TEST(trial.name == "tune[" + std::to_string(trial.index) + "]");
        BOOST_TEST(trial.params == sampler.draw(trial.index, {}));
    }
    auto few = draw_trials(sweep_over(square(), "bayesian", 2, true, "first"), &error);
    BOOST_TEST(few->size() == 2u);
}

BOOST_AUTO_TEST_CASE(every_kind_of_space_gives_values_it_can_hold) {
    json space = {{"a", {{"$kind", "quniform"}, {"low", 0.0}, {"high", 10.0}, {"q", 0.5}}},
                  {"b", {{"$kind", "qloguniform"}, {"low", 1.0}, {"high", 1000.0}, {"q", 10.0}}},
                  {"c", {{"$kind", "randint"}, {"upper", 4}}},
                  {"d", {{"$kind", "normal"}, {"mu", 5.0}, {"sigma", 1.0}}},
                  {"e", {{"$kind", "lognormal"}, {"mu", 0.0}, {"sigma", 0.5}}},
                  {"f", {{"$kind", "choice"}, {"values", {"adam", "sgd", true}}}},
                  {"g", loguniform(1e-4, 1e-1)}};
    // Past the random trials, the values come from TPE's kernels: they too must hold.
    auto f = [](const json& p) {
        return -std::fabs(p["a"].get<double>() - 7) - std::fabs(p["d"].get<double>() - 6) -
               (p["f"] == "sgd" ? 0.0 : 1.0) - std::fabs(p["c"].get<double>() - 2);
    };
    auto run = tpe_run(space, f, true, "kinds", 40);
    std::set<int64_t> ints;
    for (const TpeObservation& seen : run) {
        const json& p = seen.point;
        double a = p["a"].get<double>(), b = p["b"].get<double>(), g = p["g"].get<double>();
        BOOST_TEST((a >= 0 && a <= 10 && std::fabs(a / 0.5 - std::round(a / 0.5)) < 1e-9));
        BOOST_TEST((b >= 0 && b <= 1000 && std::fabs(b / 10 - std::round(b / 10)) < 1e-9));
        BOOST_TEST_REQUIRE(p["c"].is_number_integer());
        ints.insert(p["c"].get<int64_t>());
        BOOST_TEST((p["c"].get<int64_t>() >= 0 && p["c"].get<int64_t>() < 4));
        BOOST_TEST(std::isfinite(p["d"].get<double>()));
        BOOST_TEST(p["e"].get<double>() > 0);
        BOOST_TEST((p["f"] == "adam" || p["f"] == "sgd" || p["f"] == true));
        BOOST_TEST((g >= 1e-4 && g <= 1e-1));
    }
    BOOST_TEST(ints.size() > 1u);
}

BOOST_AUTO_TEST_SUITE_END()
