#include "compiler/piece_token_stream.h"

#include <CommonToken.h>
#include <CommonTokenFactory.h>
#include <Exceptions.h>
#include <RuleContext.h>
#include <misc/Interval.h>

namespace amlflow::compiler {

// What the parser asks of a token source: only ever in error recovery, which bails out
// here. Its line and column are those of the end-of-file token: none.
class PieceTokenStream::EndSource : public antlr4::TokenSource {
public:
    explicit EndSource(antlr4::CharStream* input) : input_(input) {}
    std::unique_ptr<antlr4::Token> nextToken() override {
        return antlr4::CommonTokenFactory::DEFAULT->create({this, input_}, antlr4::Token::EOF, "EOF",
                                                           antlr4::Token::DEFAULT_CHANNEL, 0, 0, 0, 0);
    }
    size_t getLine() const override { return 0; }
    size_t getCharPositionInLine() override { return 0; }
    antlr4::CharStream* getInputStream() override { return input_; }
    std::string getSourceName() override { return input_->getSourceName(); }
    antlr4::TokenFactory<antlr4::CommonToken>* getTokenFactory() override {
        return antlr4::CommonTokenFactory::DEFAULT.get();
    }

private:
    antlr4::CharStream* input_;
};

PieceTokenStream::PieceTokenStream(std::vector<std::unique_ptr<antlr4::Token>> tokens, antlr4::CharStream* input)
    : source_(std::make_unique<EndSource>(input)), tokens_(std::move(tokens)) {
    size_t end = tokens_.empty() ? 0 : tokens_.back()->getStopIndex() + 1;
    tokens_.push_back(antlr4::CommonTokenFactory::DEFAULT->create({source_.get(), input}, antlr4::Token::EOF, "EOF",
                                                                  antlr4::Token::DEFAULT_CHANNEL, end, end - 1, 0, 0));
    for (size_t i = 0; i < tokens_.size(); ++i) static_cast<antlr4::CommonToken&>(*tokens_[i]).setTokenIndex(i);
}

PieceTokenStream::~PieceTokenStream() = default;

antlr4::TokenSource* PieceTokenStream::getTokenSource() const { return source_.get(); }

std::string PieceTokenStream::getSourceName() const { return source_->getInputStream()->getSourceName(); }

antlr4::Token* PieceTokenStream::LT(ssize_t k) {
    if (k == 0) return nullptr;
    if (k < 0) {
        size_t back = static_cast<size_t>(-k);
        return back > position_ ? nullptr : tokens_[position_ - back].get();
    }
    size_t at = position_ + static_cast<size_t>(k) - 1;
    return tokens_[at < tokens_.size() ? at : tokens_.size() - 1].get();
}

size_t PieceTokenStream::LA(ssize_t i) {
    antlr4::Token* token = LT(i);
    return token == nullptr ? antlr4::Token::INVALID_TYPE : token->getType();
}

void PieceTokenStream::consume() {
    if (tokens_[position_]->getType() == antlr4::Token::EOF) throw antlr4::IllegalStateException("cannot consume EOF");
    ++position_;
}

std::string PieceTokenStream::getText(const antlr4::misc::Interval& interval) {
    if (interval.a < 0 || interval.b < 0) return "";
    std::string text;
    for (size_t i = static_cast<size_t>(interval.a); i <= static_cast<size_t>(interval.b) && i < tokens_.size(); ++i) {
        if (tokens_[i]->getType() == antlr4::Token::EOF) break;
        text += tokens_[i]->getText();
    }
    return text;
}

std::string PieceTokenStream::getText() {
    return getText(antlr4::misc::Interval(static_cast<ssize_t>(0), static_cast<ssize_t>(tokens_.size()) - 1));
}

std::string PieceTokenStream::getText(antlr4::RuleContext* context) { return getText(context->getSourceInterval()); }

std::string PieceTokenStream::getText(antlr4::Token* start, antlr4::Token* stop) {
    if (start == nullptr || stop == nullptr) return "";
    return getText(antlr4::misc::Interval(start->getTokenIndex(), stop->getTokenIndex()));
}

}  // namespace amlflow::compiler
