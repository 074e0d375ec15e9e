#include "compiler/source.h"

#include <algorithm>

namespace amlflow::compiler {

SourceFile::SourceFile(std::string path, std::string text)
    : path_(std::move(path)), text_(std::move(text)) {
    line_starts_.push_back(0);
    for (uint32_t i = 0; i < text_.size(); ++i) {
        if (text_[i] == '\n') line_starts_.push_back(i + 1);
    }
}

LineColumn SourceFile::locate(uint32_t offset) const {
    offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
    auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    uint32_t line_index = static_cast<uint32_t>(next - line_starts_.begin()) - 1;
    // Columns count characters (UTF-8 code points), as editors and people do.
    uint32_t column = 1;
    for (uint32_t i = line_starts_[line_index]; i < offset; ++i) {
        if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;
    }
    return {line_index + 1, column};
}

uint32_t SourceFile::offset_of(LineColumn position) const {
    if (position.line == 0 || position.line > line_starts_.size()) {
        return static_cast<uint32_t>(text_.size());
    }
    uint32_t start = line_starts_[position.line - 1];
    std::string_view line = line_text(position.line);
    uint32_t characters = 1;
    for (uint32_t i = 0; i < line.size(); ++i) {
        if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;  // inside a character
        if (characters == position.column) return start + i;
        ++characters;
    }
    return start + static_cast<uint32_t>(line.size());
}

uint32_t SourceFile::line_start(uint32_t line) const {
    if (line == 0 || line > line_starts_.size()) return static_cast<uint32_t>(text_.size());
    return line_starts_[line - 1];
}

std::string_view SourceFile::line_text(uint32_t line) const {
    if (line == 0 || line > line_starts_.size()) return {};
    uint32_t start = line_starts_[line - 1];
    uint32_t end = line < line_starts_.size() ? line_starts_[line] : static_cast<uint32_t>(text_.size());
    std::string_view view(text_.data() + start, end - start);
    while (!view.empty() && (view.back() == '\n' || view.back() == '\r')) view.remove_suffix(1);
    return view;
}

std::string_view SourceRange::text() const {
    if (!file) return {};
    const std::string& all = file->text();
    uint32_t b = std::min<uint32_t>(begin, static_cast<uint32_t>(all.size()));
    uint32_t e = std::min<uint32_t>(std::max(end, b), static_cast<uint32_t>(all.size()));
    return std::string_view(all.data() + b, e - b);
}

SourceRange SourceRange::cover(const SourceRange& first, const SourceRange& last) {
    if (!first.valid()) return last;
    if (!last.valid() || last.file != first.file) return first;
    return {first.file, std::min(first.begin, last.begin), std::max(first.end, last.end)};
}

}  // namespace amlflow::compiler
