// ANTLR reads text as code points and reports positions in code points; the AST and
// diagnostics use byte offsets. OffsetMap converts one to the other for a slice of a
// file, and costs nothing for ASCII text (the common case).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace amlflow::compiler {

// Length of the UTF-8 sequence starting at text[i], or 0 when it is malformed.
size_t utf8_sequence_length(std::string_view text, size_t i);

// The byte offset of the first malformed UTF-8 sequence, or nullopt when valid.
std::optional<uint32_t> find_invalid_utf8(std::string_view text);

class OffsetMap {
public:
    OffsetMap(std::string_view slice, uint32_t base);
    // The byte offset, in the whole file, of code point `index` of the slice.
    uint32_t byte_offset(size_t index) const {
        if (byte_of_code_point_.empty()) return base_ + static_cast<uint32_t>(index);
        if (index >= byte_of_code_point_.size()) return base_ + byte_of_code_point_.back();
        return base_ + byte_of_code_point_[index];
    }
    uint32_t base() const { return base_; }

private:
    uint32_t base_;
    std::vector<uint32_t> byte_of_code_point_;  // empty when the slice is ASCII
};

}  // namespace amlflow::compiler
