// Bayesian sampling for local sweeps: a Tree-structured Parzen Estimator (TPE), as
// Hyperopt and Optuna do it. The finished trials are split by their objective at a
// quantile, the good ones and the rest; each swept parameter gets a density of its own
// from each group (l from the good, g from the rest: Gaussian kernels in the parameter's
// natural space, in log space for the log kinds, counts with a prior for `choice`), and
// the next value is the best of a few candidates drawn from l by the ratio l(x) / g(x).
//
// Deterministic by construction: a trial's values depend only on the seed, its index and
// the history it is given (not on the history's order, nor on any global state), so the
// executor replays a sweep exactly by giving each trial the same history
// (tpe_history_bound).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

struct TpeSettings {
    int startup = 5;           // the first trials, drawn at random from the space
    double gamma = 0.25;       // the share of the history that is "good" (at least one)
    int max_good = 25;         // ... and at most this many
    int candidates = 24;       // drawn from l for each parameter; the best l/g wins
    double prior_weight = 1.0; // the space's own distribution, one kernel among the others
};

// A finished trial: its index in the sweep, its point (parameter -> value, as drawn) and
// the last value it reported of the objective (finite).
struct TpeObservation {
    int index = 0;
    nlohmann::json point;
    double value = 0;
};

// Trial `index` is conditioned on exactly the trials whose index is below this bound, and
// is drawn only when all of them have ended: none for the first `startup` trials, else
// every trial but the `parallel - 1` just before it, which may still be running. With
// `parallel = 1` each trial sees every earlier one.
int tpe_history_bound(int index, int parallel, int startup);

class TpeSampler {
public:
    // `space`: the sweep's search space in plan form (parameter -> {"$kind": ...});
    // `seed`: any text (the executor uses the sweep's content hash).
    TpeSampler(nlohmann::json space, bool maximize, std::string seed, TpeSettings settings = {});

    const TpeSettings& settings() const { return settings_; }

    // The point of trial `index`: parameter -> value. At random from the space for a
    // startup trial or an empty history; else by TPE over `history` (observations of
    // other indexes than `index`; those without a finite value are ignored).
    nlohmann::json draw(int index, const std::vector<TpeObservation>& history) const;

private:
    nlohmann::json space_;
    bool maximize_ = true;
    std::string seed_;
    TpeSettings settings_;
};

}  // namespace amlflow::runtime
