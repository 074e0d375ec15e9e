#include "compiler/string_literal.h"

#include "compiler/parse_driver.h"

namespace amlflow::compiler {

namespace {

struct Cursor {
    const SourceFile& file;
    std::string_view text;  // the whole file
    uint32_t at;
    uint32_t end;  // content end (before the closing quotes)
};

// Finds the `}` that closes an interpolation starting after `${`, skipping nested
// braces and quoted strings. Returns `end` when there is none.
uint32_t find_interpolation_end(const Cursor& c, uint32_t from) {
    int depth = 0;
    bool quoted = false;
    for (uint32_t i = from; i < c.end; ++i) {
        char ch = c.text[i];
        // Inner strings are quoted with \" (or " in a """ string).
        if (ch == '\\' && i + 1 < c.end && c.text[i + 1] == '"') {
            quoted = !quoted;
            ++i;
        } else if (ch == '"') {
            quoted = !quoted;
        } else if (quoted) {
            continue;
        } else if (ch == '{') {
            ++depth;
        } else if (ch == '}') {
            if (depth == 0) return i;
            --depth;
        }
    }
    return c.end;
}

bool decode_escape(char ch, std::string& out) {
    switch (ch) {
        case 'n': out += '\n'; return true;
        case 't': out += '\t'; return true;
        case 'r': out += '\r'; return true;
        case '0': out += '\0'; return true;
        case '\\': out += '\\'; return true;
        case '"': out += '"'; return true;
        case '$': out += '$'; return true;
        default: return false;
    }
}

}  // namespace

std::vector<ast::StringPart> decode_string_literal(const SourceFile& file, uint32_t begin,
                                                   uint32_t end, Diagnostics& diagnostics) {
    std::string_view text = file.text();
    if (end < begin + 2 || end > text.size()) return {};  // a token the parser made up while recovering
    bool triple = end - begin >= 6 && text.substr(begin, 3) == "\"\"\"";
    uint32_t quote = triple ? 3 : 1;
    Cursor c{file, text, begin + quote, end - quote};
    // A `"""` string that starts with a line break does not keep it.
    if (triple && c.at < c.end && text[c.at] == '\n') ++c.at;

    std::vector<ast::StringPart> parts;
    ast::StringPart literal;
    literal.range = {&file, c.at, c.at};
    auto flush = [&](uint32_t upto) {
        literal.range.end = upto;
        if (!literal.text.empty() || parts.empty()) parts.push_back(std::move(literal));
        literal = ast::StringPart{};
    };
    while (c.at < c.end) {
        char ch = text[c.at];
        if (ch == '\\' && c.at + 1 < c.end) {
            if (!decode_escape(text[c.at + 1], literal.text)) {
                diagnostics.error("syntax", {&file, c.at, c.at + 2},
                                  "unknown escape '\\" + std::string(1, text[c.at + 1]) + "' in string")
                    .help("the escapes are \\n \\t \\r \\0 \\\\ \\\" and \\$");
            }
            c.at += 2;
            continue;
        }
        if (ch == '$' && c.at + 1 < c.end && text[c.at + 1] == '{') {
            uint32_t open = c.at;
            uint32_t close = find_interpolation_end(c, open + 2);
            if (close >= c.end) {
                diagnostics.error("syntax", {&file, open, open + 2}, "'${' is never closed with '}'")
                    .help("a quote inside ${...} is written \\\" in a one-line string; \\${ is a literal '${'");
                c.at = c.end;
                break;
            }
            if (text.substr(open + 2, close - open - 2).find_first_not_of(" \t") == std::string_view::npos) {
                diagnostics.error("syntax", {&file, open, close + 1}, "'${}' holds no expression")
                    .help("write the value to insert, as in \"${epochs}\", or \\${ for a literal '${'");
                c.at = close + 1;
                continue;
            }
            flush(open);
            ast::StringPart piece;
            piece.range = {&file, open, close + 1};
            // `\"` inside `${...}` is a quote of the inner expression: `"${a / \"b\"}"`.
            // The backslash becomes a space outside the inner string (` "x" `), so the inner
            // token's bytes in the file are `"x\`, which decode to x.
            std::string inner(text.substr(open + 2, close - open - 2));
            bool opening = true;
            for (size_t i = 0; i + 1 < inner.size(); ++i) {
                if (inner[i] != '\\' || inner[i + 1] != '"') continue;
                if (opening) inner[i] = ' ';
                else std::swap(inner[i], inner[i + 1]), inner[i + 1] = ' ';
                opening = !opening;
                ++i;
            }
            piece.expr = parse_expression(file, open + 2, close, diagnostics, inner);
            parts.push_back(std::move(piece));
            c.at = close + 1;
            literal.range = {&file, c.at, c.at};
            continue;
        }
        literal.text += ch;
        ++c.at;
    }
    flush(c.end);
    return parts;
}

}  // namespace amlflow::compiler
