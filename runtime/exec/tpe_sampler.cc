#include "runtime/exec/tpe_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace amlflow::runtime {

using nlohmann::json;

namespace {

constexpr double kPi = 3.14159265358979323846;

// Draws from a Mersenne Twister (whose sequence the standard fixes) without the standard
// library's distributions (whose algorithms it leaves to each implementation).
class Stream {
public:
    explicit Stream(const std::string& text) {
        std::seed_seq seed(text.begin(), text.end());
        engine_.seed(seed);
    }
    double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
    double normal() {
        double u = 1.0 - uniform();  // (0, 1]: log(u) is finite
        return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * kPi * uniform());
    }
    // An index by weight (the weights positive, not necessarily summing to 1).
    size_t pick(const std::vector<double>& weights) {
        double total = 0;
        for (double weight : weights) total += weight;
        double target = uniform() * total;
        for (size_t i = 0; i + 1 < weights.size(); ++i) {
            if (target < weights[i]) return i;
            target -= weights[i];
        }
        return weights.size() - 1;
    }

private:
    std::mt19937_64 engine_;
};

// A numeric parameter in the space TPE models it in: the value itself, or its logarithm
// for the log kinds; `randint(n)` as the range [-0.5, n - 0.5] rounded to an int.
struct Axis {
    bool log = false, bounded = true, integer = false;
    double low = 0, high = 0;  // bounded kinds, in the modelled space
    double mu = 0, sigma = 1;  // the space's own distribution, as a kernel (the prior)
    double q = 0;              // the natural value's quantum; 0: none
    int64_t upper = 0;         // randint
};

Axis axis_of(const json& space) {
    std::string kind = space.value("$kind", "");
    Axis axis;
    axis.log = kind == "loguniform" || kind == "qloguniform" || kind == "lognormal";
    axis.q = space.value("q", 0.0);
    if (kind == "normal" || kind == "lognormal") {
        axis.bounded = false;
        axis.mu = space["mu"].get<double>();
        axis.sigma = space["sigma"].get<double>();
        return axis;
    }
    if (kind == "randint") {
        axis.integer = true;
        axis.upper = std::max<int64_t>(1, space["upper"].get<int64_t>());
        axis.low = -0.5;
        axis.high = static_cast<double>(axis.upper) - 0.5;
    } else {
        axis.low = space["low"].get<double>();
        axis.high = space["high"].get<double>();
        if (axis.log) axis.low = std::log(axis.low), axis.high = std::log(axis.high);
    }
    // As Hyperopt: a wide kernel in the middle stands for the uniform prior.
    axis.mu = (axis.low + axis.high) / 2;
    axis.sigma = axis.high - axis.low;
    return axis;
}

json natural(const Axis& axis, double t) {
    if (axis.integer) return std::clamp<int64_t>(std::llround(t), 0, axis.upper - 1);
    double value = axis.log ? std::exp(t) : t;
    if (axis.q > 0) value = std::round(value / axis.q) * axis.q;
    return value;
}

double modelled(const Axis& axis, double value) {
    double t = axis.log ? std::log(std::max(value, std::numeric_limits<double>::min())) : value;
    return axis.bounded ? std::clamp(t, axis.low, axis.high) : t;
}

// A mixture of Gaussian kernels, truncated to the axis' bounds: Hyperopt's adaptive
// Parzen estimator, the prior one of its kernels.
struct Parzen {
    std::vector<double> mus, sigmas, weights;  // weights sum to 1
};

Parzen fit(const Axis& axis, std::vector<double> points, double prior_weight) {
    std::sort(points.begin(), points.end());
    Parzen parzen;
    size_t prior = std::lower_bound(points.begin(), points.end(), axis.mu) - points.begin();
    parzen.mus = points;
    parzen.mus.insert(parzen.mus.begin() + static_cast<std::ptrdiff_t>(prior), axis.mu);
    size_t n = parzen.mus.size();
    // Each kernel as wide as the larger gap to its neighbours, within [prior / (n+1), prior]:
    // narrow where trials crowd, never narrower than the space allows to tell apart.
    double widest = axis.sigma, narrowest = axis.sigma / std::min(100.0, 1.0 + static_cast<double>(n));
    for (size_t i = 0; i < n; ++i) {
        double gap = 0;
        if (i > 0) gap = parzen.mus[i] - parzen.mus[i - 1];
        if (i + 1 < n) gap = std::max(gap, parzen.mus[i + 1] - parzen.mus[i]);
        double sigma = i == prior ? axis.sigma : std::clamp(gap, narrowest, widest);
        parzen.sigmas.push_back(sigma);
        parzen.weights.push_back(i == prior ? prior_weight : 1.0);
    }
    double total = prior_weight + static_cast<double>(points.size());
    for (double& weight : parzen.weights) weight /= total;
    return parzen;
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double log_density(const Axis& axis, const Parzen& parzen, double t) {
    double density = 0;
    for (size_t i = 0; i < parzen.mus.size(); ++i) {
        double mu = parzen.mus[i], sigma = parzen.sigmas[i];
        double z = (t - mu) / sigma;
        double mass = axis.bounded ? normal_cdf((axis.high - mu) / sigma) - normal_cdf((axis.low - mu) / sigma) : 1.0;
        density += parzen.weights[i] * std::exp(-0.5 * z * z) / (sigma * std::sqrt(2 * kPi) * std::max(mass, 1e-12));
    }
    return std::log(std::max(density, 1e-300));
}

double sample(const Axis& axis, const Parzen& parzen, Stream& stream) {
    size_t i = stream.pick(parzen.weights);
    double t = parzen.mus[i];
    for (int tries = 0; tries < 64; ++tries) {
        t = parzen.mus[i] + parzen.sigmas[i] * stream.normal();
        if (!axis.bounded || (t >= axis.low && t <= axis.high)) return t;
    }
    return std::clamp(t, axis.low, axis.high);
}

// A value of the space's own distribution: a random trial's.
json draw_prior(const json& space, Stream& stream) {
    if (space.value("$kind", "") == "choice") {
        const json& values = space["values"];
        return values[std::min(values.size() - 1, static_cast<size_t>(stream.uniform() * values.size()))];
    }
    Axis axis = axis_of(space);
    double t = axis.bounded ? axis.low + stream.uniform() * (axis.high - axis.low)
                            : axis.mu + axis.sigma * stream.normal();
    return natural(axis, t);
}

// `choice`: the share of each value among the group's points, plus the prior spread evenly.
std::vector<double> counts(const json& values, const std::vector<json>& points, double prior_weight) {
    std::vector<double> weights(values.size(), prior_weight / static_cast<double>(values.size()));
    for (const json& point : points) {
        auto found = std::find(values.begin(), values.end(), point);
        if (found != values.end()) weights[static_cast<size_t>(found - values.begin())] += 1.0;
    }
    return weights;
}

json draw_choice(const json& values, const std::vector<json>& good, const std::vector<json>& bad,
                 const TpeSettings& settings, Stream& stream) {
    std::vector<double> l = counts(values, good, settings.prior_weight);
    std::vector<double> g = counts(values, bad, settings.prior_weight);
    double l_total = 0, g_total = 0;
    for (size_t i = 0; i < l.size(); ++i) l_total += l[i], g_total += g[i];
    size_t best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < settings.candidates; ++c) {
        size_t k = stream.pick(l);
        double score = std::log(l[k] / l_total) - std::log(g[k] / g_total);
        if (score > best_score) best = k, best_score = score;
    }
    return values[best];
}

json draw_numeric(const json& space, const std::vector<json>& good, const std::vector<json>& bad,
                  const TpeSettings& settings, Stream& stream) {
    Axis axis = axis_of(space);
    auto fitted = [&](const std::vector<json>& group) {
        std::vector<double> points;
        for (const json& value : group) {
            if (value.is_number()) points.push_back(modelled(axis, value.get<double>()));
        }
        return fit(axis, std::move(points), settings.prior_weight);
    };
    Parzen l = fitted(good), g = fitted(bad);
    json best;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < settings.candidates; ++c) {
        json value = natural(axis, sample(axis, l, stream));
        // Scored where it lands: a quantized candidate at its rounded value.
        double t = modelled(axis, value.get<double>());
        double score = log_density(axis, l, t) - log_density(axis, g, t);
        if (best.is_null() || score > best_score) best = value, best_score = score;
    }
    return best;
}

}  // namespace

int tpe_history_bound(int index, int parallel, int startup) {
    if (index < startup) return 0;
    return std::max(0, index - std::max(1, parallel) + 1);
}

TpeSampler::TpeSampler(json space, bool maximize, std::string seed, TpeSettings settings)
    : space_(std::move(space)), maximize_(maximize), seed_(std::move(seed)), settings_(settings) {}

json TpeSampler::draw(int index, const std::vector<TpeObservation>& history) const {
    // Better first, ties by index: the split, and so the draw, ignores the history's order.
    std::vector<const TpeObservation*> ranked;
    for (const TpeObservation& seen : history) {
        if (seen.index != index && std::isfinite(seen.value)) ranked.push_back(&seen);
    }
    std::sort(ranked.begin(), ranked.end(), [&](const TpeObservation* a, const TpeObservation* b) {
        if (a->value != b->value) return maximize_ ? a->value > b->value : a->value < b->value;
        return a->index < b->index;
    });
    bool at_random = index < settings_.startup || ranked.empty();
    size_t good_count = std::min<size_t>(
        std::max(1, settings_.max_good),
        std::max<size_t>(1, static_cast<size_t>(std::ceil(settings_.gamma * static_cast<double>(ranked.size())))));
    json point = json::object();
    for (auto it = space_.begin(); it != space_.end(); ++it) {
        // A stream per trial and parameter: adding a parameter leaves the others' draws be.
        Stream stream(seed_ + "\ntpe\n" + std::to_string(index) + "\n" + it.key());
        if (at_random) {
            point[it.key()] = draw_prior(it.value(), stream);
            continue;
        }
        std::vector<json> good, bad;
        for (size_t i = 0; i < ranked.size(); ++i) {
            if (!ranked[i]->point.contains(it.key())) continue;
            (i < good_count ? good : bad).push_back(ranked[i]->point[it.key()]);
        }
        point[it.key()] = it.value().value("$kind", "") == "choice"
                              ? draw_choice(it.value()["values"], good, bad, settings_, stream)
                              : draw_numeric(it.value(), good, bad, settings_, stream);
    }
    return point;
}

}  // namespace amlflow::runtime
