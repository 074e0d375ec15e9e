// "did you mean 'x'?": the closest candidate by edit distance, when close enough.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace amlflow::compiler {

size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `name`, if its distance is small for the name's length
// (at most a third of it, and at most 3 edits; a case-only difference always counts).
std::optional<std::string> closest_name(std::string_view name,
                                        const std::vector<std::string>& candidates);

}  // namespace amlflow::compiler
