#include "editor/lsp/token_scan.h"

#include <ANTLRInputStream.h>
#include <Token.h>

#include "AmlflowLexer.h"
#include "compiler/utf8.h"

namespace amlflow::lsp {

namespace {

using Lexer = grammar::AmlflowLexer;

bool is_keyword(size_t type) {
    switch (type) {
        case Lexer::IMPORT: case Lexer::AS: case Lexer::PARAM: case Lexer::LET: case Lexer::WORKSPACE:
        case Lexer::ENVIRONMENT: case Lexer::COMPUTE: case Lexer::EXPERIMENT: case Lexer::JOB: case Lexer::SWEEP:
        case Lexer::OVER: case Lexer::REGISTER: case Lexer::MODEL: case Lexer::EXPORT: case Lexer::ONNX:
        case Lexer::DOWNLOAD: case Lexer::FROM: case Lexer::TRUE: case Lexer::FALSE:
            return true;
        default: return false;
    }
}

TokenKind kind_of(size_t type) {
    if (type == Lexer::ID || is_keyword(type)) return TokenKind::Word;
    switch (type) {
        case Lexer::STRING: case Lexer::TRIPLE_STRING: case Lexer::UNTERMINATED_STRING: return TokenKind::String;
        case Lexer::INT: case Lexer::FLOAT: case Lexer::DURATION: case Lexer::SIZE: case Lexer::BAD_NUMBER:
            return TokenKind::Number;
        case Lexer::LBRACE: return TokenKind::LBrace;
        case Lexer::RBRACE: return TokenKind::RBrace;
        case Lexer::LPAREN: return TokenKind::LParen;
        case Lexer::RPAREN: return TokenKind::RParen;
        case Lexer::LBRACKET: return TokenKind::LBracket;
        case Lexer::RBRACKET: return TokenKind::RBracket;
        case Lexer::ASSIGN: return TokenKind::Assign;
        case Lexer::COLON: return TokenKind::Colon;
        case Lexer::COMMA: return TokenKind::Comma;
        case Lexer::DOT: return TokenKind::Dot;
        case Lexer::PLUS: case Lexer::MINUS: case Lexer::STAR: case Lexer::SLASH: case Lexer::PERCENT:
            return TokenKind::Operator;
        case Lexer::LINE_COMMENT: case Lexer::BLOCK_COMMENT: case Lexer::UNTERMINATED_COMMENT:
            return TokenKind::Comment;
        default: return TokenKind::Other;
    }
}

// The lexer reads UTF-8: malformed bytes become '?' (same length, so offsets hold).
std::string sanitized(std::string_view text) {
    std::string copy(text);
    size_t from = 0;
    while (auto bad = compiler::find_invalid_utf8(std::string_view(copy).substr(from))) {
        copy[from + *bad] = '?';
        from += *bad + 1;
    }
    return copy;
}

}  // namespace

std::vector<Token> scan_tokens(std::string_view text) {
    std::string clean = sanitized(text);
    compiler::OffsetMap offsets(clean, 0);
    antlr4::ANTLRInputStream input(clean.data(), clean.size());
    Lexer lexer(&input);
    lexer.removeErrorListeners();
    std::vector<Token> tokens;
    for (;;) {
        std::unique_ptr<antlr4::Token> token = lexer.nextToken();
        size_t type = token->getType();
        if (type == antlr4::Token::EOF) break;
        Token out;
        out.kind = kind_of(type);
        out.keyword = is_keyword(type);
        out.open = type == Lexer::UNTERMINATED_STRING || type == Lexer::UNTERMINATED_COMMENT;
        out.begin = offsets.byte_offset(token->getStartIndex());
        out.end = offsets.byte_offset(token->getStopIndex() + 1);
        if (out.kind == TokenKind::Word) out.text = token->getText();
        tokens.push_back(std::move(out));
    }
    return tokens;
}

}  // namespace amlflow::lsp
