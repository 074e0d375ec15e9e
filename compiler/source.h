// Source files and ranges. Every AST node and every diagnostic points into a SourceFile
// by byte offsets; line and column are derived on demand so that building the AST
// stays cheap and the language server can map to its own coordinates.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace amlflow::compiler {

struct LineColumn {
    uint32_t line = 1;    // 1-based
    uint32_t column = 1;  // 1-based, in characters (UTF-8 code points)
};

class SourceFile {
public:
    SourceFile(std::string path, std::string text);

    const std::string& path() const { return path_; }
    const std::string& text() const { return text_; }

    LineColumn locate(uint32_t offset) const;
    uint32_t offset_of(LineColumn position) const;
    uint32_t line_start(uint32_t line) const;  // the byte offset where `line` begins
    std::string_view line_text(uint32_t line) const;  // without its newline
    uint32_t line_count() const { return static_cast<uint32_t>(line_starts_.size()); }

private:
    std::string path_;
    std::string text_;
    std::vector<uint32_t> line_starts_;
};

using SourceFilePtr = std::shared_ptr<const SourceFile>;

// A half-open byte range [begin, end) in one file. A null file means "no location"
// (for example a value that came from the command line before it was given one).
struct SourceRange {
    const SourceFile* file = nullptr;
    uint32_t begin = 0;
    uint32_t end = 0;

    bool valid() const { return file != nullptr; }
    LineColumn start() const { return file ? file->locate(begin) : LineColumn{}; }
    LineColumn finish() const { return file ? file->locate(end) : LineColumn{}; }
    std::string_view text() const;
    static SourceRange cover(const SourceRange& first, const SourceRange& last);
};

}  // namespace amlflow::compiler
