// LSP positions: 0-based lines and, within a line, 0-based offsets in UTF-16 code units
// (the protocol's default encoding). The compiler speaks byte offsets; this converts
// both ways for one text, and treats "\n", "\r\n" and a lone "\r" as line ends, as the
// protocol does.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace amlflow::lsp {

struct Position {
    uint32_t line = 0;
    uint32_t character = 0;  // UTF-16 code units from the start of the line
};

class TextIndex {
public:
    TextIndex() = default;
    explicit TextIndex(std::string_view text);

    Position position_of(uint32_t offset) const;
    // A position past the end of its line means the line's end; past the last line, the
    // text's end. A position inside a surrogate pair or a character rounds down.
    uint32_t offset_of(Position position) const;

    nlohmann::json position_json(uint32_t offset) const;
    nlohmann::json range_json(uint32_t begin, uint32_t end) const;

private:
    uint32_t line_end(uint32_t line) const;  // the offset of the line's terminator

    std::string_view text_;
    std::vector<uint32_t> line_starts_{0};
};

// `{"line": L, "character": C}` from a request; nullopt when malformed.
std::optional<Position> parse_position(const nlohmann::json& value);

}  // namespace amlflow::lsp
