// The tokens of one piece of a file (compiler/parse_chunks.cc) as the parser reads them:
// a flat array ending in an end-of-file token. ANTLR's CommonTokenStream pulls tokens
// from a source one at a time, casts each to set its index, and skips off-channel tokens
// on every look-ahead; a piece's tokens are all lexed already, all on the default channel,
// so here a look-ahead is an array read (about a fifth of a piece's parse before). Part of
// the parse driver.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CharStream.h>
#include <Token.h>
#include <TokenSource.h>
#include <TokenStream.h>

namespace amlflow::compiler {

class PieceTokenStream : public antlr4::TokenStream {
public:
    // `tokens` are CommonTokens of `input`, none of them end-of-file.
    PieceTokenStream(std::vector<std::unique_ptr<antlr4::Token>> tokens, antlr4::CharStream* input);
    ~PieceTokenStream() override;

    antlr4::Token* LT(ssize_t k) override;
    antlr4::Token* get(size_t index) const override { return tokens_[index].get(); }
    antlr4::TokenSource* getTokenSource() const override;
    std::string getText(const antlr4::misc::Interval& interval) override;
    std::string getText() override;
    std::string getText(antlr4::RuleContext* context) override;
    std::string getText(antlr4::Token* start, antlr4::Token* stop) override;

    void consume() override;
    size_t LA(ssize_t i) override;
    ssize_t mark() override { return -1; }
    void release(ssize_t) override {}
    size_t index() override { return position_; }
    void seek(size_t index) override { position_ = index < tokens_.size() ? index : tokens_.size() - 1; }
    size_t size() override { return tokens_.size(); }
    std::string getSourceName() const override;

private:
    class EndSource;

    std::unique_ptr<EndSource> source_;                   // of the end-of-file token
    std::vector<std::unique_ptr<antlr4::Token>> tokens_;  // the last one is end-of-file
    size_t position_ = 0;
};

}  // namespace amlflow::compiler
