// format_source: check that the text parses (with the compiler's own parser, so syntax
// errors read as `amlflow check` words them), lay it out, and check the layout kept
// every token and comment before handing it back. That last check costs one more lex
// and parse, which is cheap next to the cost of a formatter that ever loses a comment.
#include "compiler/formatter.h"

#include <exception>
#include <memory>
#include <optional>
#include <vector>

#include "compiler/format_layout.h"
#include "compiler/format_tokens.h"
#include "compiler/parse_driver.h"
#include "compiler/utf8.h"

namespace amlflow::compiler {

namespace {

constexpr size_t kMaxTextBytes = 16u << 20;  // the loader's limit for a file

// What a layout may not change: the tokens in order (commas aside, which the layout
// writes itself and the parse below checks) and the comments (up to trailing spaces and
// line endings).
struct Content {
    std::vector<std::string> tokens;
    std::vector<std::string> comments;
    bool operator==(const Content& other) const { return tokens == other.tokens && comments == other.comments; }
};

std::string without_trailing_spaces(const std::string& comment) {
    std::string out, line;
    auto flush = [&] {
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
        out += line;
        line.clear();
    };
    for (char c : comment) {
        if (c == '\n') {
            flush();
            out += '\n';
        } else {
            line += c;
        }
    }
    flush();
    return out;
}

Content content_of(const std::vector<format::FormatToken>& tokens) {
    Content content;
    for (const format::FormatToken& token : tokens) {
        if (token.is_comment()) {
            content.comments.push_back(without_trailing_spaces(token.text));
        } else if (token.lex != format::Lex::Comma) {
            content.tokens.push_back(token.text);
        }
    }
    return content;
}

// Errors that stop the formatter: those of the syntax. A literal too large for its type
// ("out-of-range") parses fine and is kept as written, so it is `check`'s to report: the
// formatter must not refuse a file `gofmt` would format.
bool blocks_formatting(const Diagnostics& diagnostics) {
    for (const Diagnostic& d : diagnostics.all()) {
        if (d.severity == Severity::Error && d.code != "out-of-range") return true;
    }
    return false;
}

bool parses(const std::string& path, const std::string& text) {
    Diagnostics scratch;
    parse_module(std::make_shared<SourceFile>(path, text), scratch);
    return !blocks_formatting(scratch);
}

// The layout, or an empty optional when it would not be safe to use.
std::optional<std::string> lay_out_checked(const std::string& path, const std::string& text) {
    std::optional<format::TokenizedFile> tokens = format::tokenize_for_format(text);
    if (!tokens) return std::nullopt;
    std::string out = format::lay_out(*tokens);
    // The input's tokens are those just lexed; only the layout's are lexed again.
    if (!(content_of(format::lex_for_format(out)) == content_of(tokens->tokens)) || !parses(path, out)) {
        return std::nullopt;
    }
    return out;
}

}  // namespace

FormatResult format_source(const std::string& path, const std::string& text) {
    FormatResult result;
    result.source = std::make_shared<SourceFile>(path, text);
    const SourceFile& file = *result.source;
    if (text.size() > kMaxTextBytes) {
        result.diagnostics.error("io", {&file, 0, 0}, "the file is larger than 16 MiB");
        return result;
    }
    if (auto bad = find_invalid_utf8(text)) {
        result.diagnostics.error("syntax", {&file, *bad, *bad + 1}, "the file is not valid UTF-8")
            .help("save it as UTF-8");
        return result;
    }
    Diagnostics parsed;
    parse_module(result.source, parsed);
    if (blocks_formatting(parsed)) {
        result.diagnostics = std::move(parsed);
        return result;
    }
    std::optional<std::string> out;
    try {
        out = lay_out_checked(path, text);
    } catch (const std::exception&) {
        out.reset();  // reported below: a formatter bug must not take the caller down
    }
    if (!out) {
        result.diagnostics.error("format", {&file, 0, 0}, "the formatter could not lay out this file without changing it")
            .note("the file was left as it is; please report this as an amlflow bug");
        return result;
    }
    result.text = std::move(*out);
    result.ok = true;
    return result;
}

}  // namespace amlflow::compiler
