#include "compiler/utf8.h"

namespace amlflow::compiler {

size_t utf8_sequence_length(std::string_view text, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char lead = byte(i);
    if (lead < 0x80) return 1;
    size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
    if (length == 0 || lead > 0xF4 || i + length > text.size()) return 0;
    for (size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    }
    unsigned char second = byte(i + 1);
    if (lead == 0xE0 && second < 0xA0) return 0;  // overlong
    if (lead == 0xED && second >= 0xA0) return 0; // surrogate
    if (lead == 0xF0 && second < 0x90) return 0;  // overlong
    if (lead == 0xF4 && second >= 0x90) return 0; // above U+10FFFF
    return length;
}

std::optional<uint32_t> find_invalid_utf8(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        size_t length = utf8_sequence_length(text, i);
        if (length == 0) return static_cast<uint32_t>(i);
        i += length;
    }
    return std::nullopt;
}

OffsetMap::OffsetMap(std::string_view slice, uint32_t base) : base_(base) {
    bool ascii = true;
    for (char c : slice) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            ascii = false;
            break;
        }
    }
    if (ascii) return;
    for (size_t i = 0; i < slice.size();) {
        byte_of_code_point_.push_back(static_cast<uint32_t>(i));
        size_t length = utf8_sequence_length(slice, i);
        i += length == 0 ? 1 : length;
    }
    byte_of_code_point_.push_back(static_cast<uint32_t>(slice.size()));
}

}  // namespace amlflow::compiler
