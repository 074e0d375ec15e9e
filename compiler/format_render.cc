// Alignment and comment placement, the two rules that look across lines.
//
// Alignment works as gofmt's does for consecutive lines: the members of one block that sit
// on neighbouring lines at the same depth have their `=` in one column (and neighbouring
// `compute NAME : KIND { ... }` lines their `:` and `{`). A blank line, a line deeper or
// shallower (the inside of a broken member), or a line aligned on other marks ends the
// run; a comment line or a one-line nested block (`retry { ... }`) between members does
// not. The columns are computed from the text without padding, so aligning again gives
// the same columns.
//
// A trailing `//` comment stays at the column the author put it at (so comments the author
// lined up stay lined up), or one space after the code when the code now reaches that far.
#include "compiler/format_render.h"

#include <algorithm>

namespace amlflow::compiler::format {

namespace {

// Columns count code points, as editors and the diagnostics do.
size_t width(const std::string& text, size_t begin = 0, size_t end = std::string::npos) {
    end = std::min(end, text.size());
    size_t count = 0;
    for (size_t i = begin; i < end; ++i) count += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    return count;
}

std::string tags_of(const OutLine& line) {
    std::string tags;
    for (const auto& mark : line.marks) tags += mark.second;
    return tags;
}

// Pads the lines of one run so that each mark sits in one column.
void align_run(std::vector<OutLine>& lines, const std::vector<size_t>& run) {
    size_t count = lines[run.front()].marks.size();
    for (size_t m = 0; m < count; ++m) {
        size_t widest = 0;
        for (size_t index : run) {
            const OutLine& line = lines[index];
            size_t start = m == 0 ? 0 : line.marks[m - 1].first;
            widest = std::max(widest, width(line.code, start, line.marks[m].first));
        }
        for (size_t index : run) {
            OutLine& line = lines[index];
            size_t start = m == 0 ? 0 : line.marks[m - 1].first;
            size_t pad = widest - width(line.code, start, line.marks[m].first);
            line.code.insert(line.marks[m].first, pad, ' ');
            for (size_t later = m; later < count; ++later) line.marks[later].first += pad;
        }
    }
}

void align(std::vector<OutLine>& lines) {
    size_t i = 0;
    while (i < lines.size()) {
        if (lines[i].marks.empty() || lines[i].raw || lines[i].blank) {
            ++i;
            continue;
        }
        std::string tags = tags_of(lines[i]);
        std::vector<size_t> run{i};
        size_t k = i + 1;
        for (; k < lines.size(); ++k) {
            const OutLine& line = lines[k];
            if (line.blank || line.raw || line.indent != lines[i].indent) break;
            if (line.marks.empty()) continue;
            if (tags_of(line) != tags) break;
            run.push_back(k);
        }
        if (run.size() > 1) align_run(lines, run);
        i = k;
    }
}

std::string render(const OutLine& line) {
    if (line.blank) return "";
    std::string text = line.raw ? line.code : std::string(static_cast<size_t>(line.indent) * 2, ' ') + line.code;
    if (line.comment.empty()) return text;
    size_t column = width(text);
    text += column + 1 <= line.comment_column ? std::string(line.comment_column - column, ' ') : " ";
    return text + line.comment;
}

}  // namespace

std::string render_lines(std::vector<OutLine> lines) {
    align(lines);
    std::string out;
    for (const OutLine& line : lines) out += render(line) + "\n";
    return out;
}

}  // namespace amlflow::compiler::format
