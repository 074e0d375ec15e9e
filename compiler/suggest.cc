#include "compiler/suggest.h"

#include <algorithm>
#include <cctype>

namespace amlflow::compiler {

// Damerau (optimal string alignment) distance: a swapped pair of letters is one typo.
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.size()][b.size()];
}

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::optional<std::string> closest_name(std::string_view name,
                                        const std::vector<std::string>& candidates) {
    std::optional<std::string> best;
    size_t best_distance = SIZE_MAX;
    size_t limit = std::min<size_t>(3, std::max<size_t>(1, name.size() / 3));
    for (const std::string& candidate : candidates) {
        if (candidate == name || candidate.empty()) continue;
        if (lower(candidate) == lower(name)) return candidate;
        // Long names are compared only when their lengths are close: the quadratic
        // distance stays cheap on files with thousands of names.
        size_t length_gap = candidate.size() > name.size() ? candidate.size() - name.size()
                                                           : name.size() - candidate.size();
        if (length_gap > limit) continue;
        size_t distance = edit_distance(name, candidate);
        if (distance <= limit && distance < best_distance) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

}  // namespace amlflow::compiler
