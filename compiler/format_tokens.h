// The formatter's view of a file: every token, comments included, in source order, with
// the roles the parse tree gives them (which bracket pairs hold members or items, where
// each item starts, which '=' and ':' line up with their neighbours). The layout
// (format_layout.cc) works from this alone, so only format_tokens.cc sees ANTLR besides
// the parse driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace amlflow::compiler::format {

// What the layout needs to know about a token's spelling.
enum class Lex {
    Name,          // an identifier or keyword: `f(` takes no space before `(`
    Word,          // literals (numbers, strings, true/false) and anything else
    Comma,
    Dot,
    Colon,
    Assign,
    Minus,
    Operator,      // + * / %
    Open,          // ( [ {
    Close,         // ) ] }
    LineComment,
    BlockComment,
    End,           // the end of the file
};

enum class ContainerKind {
    Top,    // the file: declarations
    Block,  // { members }: commas optional, so the layout decides them
    Body,   // experiment { steps }
    List,   // [ items ], ( args ), ( template params ): commas required
    Paren,  // ( expr )
    Type,   // list[string]
};

// A bracket pair (or the file itself).
struct Container {
    ContainerKind kind = ContainerKind::Top;
    size_t open = 0;         // token index of the opening bracket (unused for Top)
    size_t close = 0;        // token index of the closing bracket (End for Top)
    bool multiline = false;  // the author broke it over lines (and it holds something)
    size_t items = 0;        // how many items (members, steps, elements) it holds
};

enum TokenRole : uint32_t {
    kItemStart = 1u << 0,     // first token of an item of `item_of`
    kSeparator = 1u << 1,     // a comma between items of `bracket`
    kOpener = 1u << 2,        // opens `bracket`
    kCloser = 1u << 3,        // closes `bracket`
    kAssignMark = 1u << 4,    // the '=' of a member: aligned with its neighbours
    kComputeColon = 1u << 5,  // the ':' of `compute NAME : KIND`: spaced and aligned
    kComputeBrace = 1u << 6,  // the '{' of a compute declaration: aligned
    kUnaryMinus = 1u << 7,    // prefix '-': no space after
};

struct FormatToken {
    Lex lex = Lex::Word;
    std::string text;
    uint32_t line = 1;      // 1-based line of the first character
    uint32_t end_line = 1;  // line of the last character (differs for multi-line tokens)
    uint32_t column = 0;    // 0-based column of the first character, in code points
    uint32_t roles = 0;
    int item_of = -1;       // with kItemStart: index into TokenizedFile::containers
    int bracket = -1;       // with kOpener, kCloser, kSeparator
    size_t anchor = 0;      // with kAssignMark, kComputeColon, kComputeBrace: the member's
                            // (or declaration's) first token
    bool is_comment() const { return lex == Lex::LineComment || lex == Lex::BlockComment; }
};

struct TokenizedFile {
    std::vector<FormatToken> tokens;      // ends with one End token
    std::vector<Container> containers;    // [0] is the file (Top)
};

// Lexes and parses `text` and annotates its tokens. nullopt when it does not parse: the
// caller parses it first with the compiler's own driver, which words the errors.
std::optional<TokenizedFile> tokenize_for_format(const std::string& text);

// Lexes only (no roles): for checking that a layout kept every token and comment.
std::vector<FormatToken> lex_for_format(const std::string& text);

}  // namespace amlflow::compiler::format
