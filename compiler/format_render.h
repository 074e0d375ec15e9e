// The last step of the formatter's layout: lines built by format_layout.cc become text.
// Here the `=` of neighbouring members are lined up and trailing comments placed.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace amlflow::compiler::format {

struct OutLine {
    int indent = 0;                                  // in levels of two spaces
    std::string code;                                // without the indent
    std::vector<std::pair<size_t, char>> marks;      // alignment points: byte offset in
                                                     // `code`, and what is aligned there
    std::string comment;                             // a trailing // comment, or empty
    unsigned comment_column = 0;                     // the column the author put it at
    size_t first_token = static_cast<size_t>(-1);    // the token that starts the line
    bool raw = false;                                // inside a multi-line token: verbatim
    bool blank = false;
};

// Aligns, places comments and joins the lines; the text ends with a newline unless it is
// empty.
std::string render_lines(std::vector<OutLine> lines);

}  // namespace amlflow::compiler::format
