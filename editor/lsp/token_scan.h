// The document as tokens, from the language's own ANTLR lexer: what completion reads
// when the text around the cursor is half written and does not parse (the usual case
// while typing). Lexing cannot fail, so this works on any text.
//
// This is the one file outside compiler/parse_driver.cc that includes generated code:
// the lexer only, to get exactly the compiler's tokens instead of a second tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace amlflow::lsp {

enum class TokenKind {
    Word,      // a name, or a keyword (`keyword` says which)
    String,    // a string literal; `open` when unterminated
    Number,    // int, float, duration, size (or a number with a bad unit)
    LBrace, RBrace, LParen, RParen, LBracket, RBracket,
    Assign, Colon, Comma, Dot,
    Operator,  // + - * / %
    Comment,   // `open` when an unterminated block comment
    Other,     // a character the language has no use for
};

struct Token {
    TokenKind kind = TokenKind::Other;
    bool keyword = false;  // import, param, job, ... (true/false are Words and keywords)
    bool open = false;
    uint32_t begin = 0;    // byte offsets, [begin, end)
    uint32_t end = 0;
    std::string text;
};

// Every token of `text`, comments included, in order.
std::vector<Token> scan_tokens(std::string_view text);

}  // namespace amlflow::lsp
