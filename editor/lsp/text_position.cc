#include "editor/lsp/text_position.h"

#include <algorithm>

namespace amlflow::lsp {

namespace {

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// UTF-16 units of the character that starts with `lead`: 2 for a 4-byte UTF-8 sequence
// (outside the basic plane), else 1. A malformed byte counts as one replacement character.
uint32_t utf16_units(unsigned char lead) { return lead >= 0xF0 && lead <= 0xF4 ? 2 : 1; }

}  // namespace

TextIndex::TextIndex(std::string_view text) : text_(text) {
    for (uint32_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) {
            line_starts_.push_back(i + 1);
        }
    }
}

uint32_t TextIndex::line_end(uint32_t line) const {
    uint32_t end = line + 1 < line_starts_.size() ? line_starts_[line + 1] : static_cast<uint32_t>(text_.size());
    while (end > line_starts_[line] && (text_[end - 1] == '\n' || text_[end - 1] == '\r')) --end;
    return end;
}

Position TextIndex::position_of(uint32_t offset) const {
    offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
    auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    uint32_t line = static_cast<uint32_t>(next - line_starts_.begin()) - 1;
    uint32_t end = std::min(offset, line_end(line));
    uint32_t units = 0;
    for (uint32_t i = line_starts_[line]; i < end; ++i) {
        unsigned char byte = static_cast<unsigned char>(text_[i]);
        if (!is_continuation(byte)) units += utf16_units(byte);
    }
    return {line, units};
}

uint32_t TextIndex::offset_of(Position position) const {
    if (position.line >= line_starts_.size()) return static_cast<uint32_t>(text_.size());
    uint32_t i = line_starts_[position.line];
    uint32_t end = line_end(position.line);
    uint32_t units = 0;
    while (i < end) {
        unsigned char byte = static_cast<unsigned char>(text_[i]);
        uint32_t width = utf16_units(byte);
        if (units + width > position.character) break;
        units += width;
        ++i;
        while (i < end && is_continuation(static_cast<unsigned char>(text_[i]))) ++i;
    }
    return i;
}

nlohmann::json TextIndex::position_json(uint32_t offset) const {
    Position p = position_of(offset);
    return {{"line", p.line}, {"character", p.character}};
}

nlohmann::json TextIndex::range_json(uint32_t begin, uint32_t end) const {
    return {{"start", position_json(begin)}, {"end", position_json(std::max(begin, end))}};
}

std::optional<Position> parse_position(const nlohmann::json& value) {
    if (!value.is_object()) return std::nullopt;
    auto line = value.find("line");
    auto character = value.find("character");
    if (line == value.end() || character == value.end()) return std::nullopt;
    if (!line->is_number_unsigned() || !character->is_number_unsigned()) return std::nullopt;
    auto clamp = [](uint64_t v) { return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX)); };
    return Position{clamp(line->get<uint64_t>()), clamp(character->get<uint64_t>())};
}

}  // namespace amlflow::lsp
