// The outline of a small YAML document, with where each part is written: block mappings and
// sequences, one-line scalars (plain, 'single' or "double" quoted), `[a, b]` flow lists and
// comments — what conda environment files are made of (conda_check.h). Anything past that
// (anchors, tags, `|` and `>` blocks, `{...}`, a scalar over several lines) becomes an
// Opaque node that a reader leaves alone; a document this outline cannot read at all (a tab
// in the indentation, a line indented where nothing opens a block, a mapping line with no
// `key:`) is an error with its place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace amlflow::compiler {

struct YamlNode {
    enum class Kind { Null, Scalar, Sequence, Mapping, Opaque };
    Kind kind = Kind::Null;
    std::string text;                // a Scalar's value, unquoted
    uint32_t begin = 0, end = 0;     // where it is written (byte offsets); a Null: where it would be
    std::vector<YamlNode> items;     // a Sequence's items
    std::vector<std::pair<YamlNode, YamlNode>> entries;  // a Mapping's keys (Scalars) and values

    const YamlNode* find(std::string_view key) const;  // a Mapping's value for `key`
};

struct YamlOutline {
    std::optional<YamlNode> root;    // none: an empty document, or an error
    std::string error;               // "" when it was read
    uint32_t error_at = 0;           // the byte offset the error points at
};

YamlOutline read_yaml_outline(std::string_view text);

}  // namespace amlflow::compiler
