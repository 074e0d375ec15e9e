// ANTLR's generated lexer with a faster DFA walk. The runtime (4.9) looks up each
// character's next DFA state in a hash map under a reader-writer lock (about 240
// instructions a character), and finds its own simulator with a dynamic_cast five times
// a token (nextToken, and getLine and getCharPositionInLine for each token made):
// together a sixth of a large file's compile. FastLexer's simulator keeps the edges it
// has already followed in flat per-state tables (ASCII only, as the runtime's own DFA),
// lock-free, and asks the runtime for the rest; nextToken, getLine and
// getCharPositionInLine are the runtime's, step for step, with the simulator held by its
// type. The same DFA, the same tokens, the same errors. Part of the parse driver: only it
// includes the generated code.
#pragma once

#include <memory>

#include <atn/LexerATNSimulator.h>

#include "AmlflowLexer.h"

namespace amlflow::compiler {

class TextCharStream;

class FastLexer : public grammar::AmlflowLexer {
public:
    explicit FastLexer(TextCharStream* input);

    std::unique_ptr<antlr4::Token> nextToken() override;
    // The runtime's emit through CommonTokenFactory::DEFAULT, without the factory.
    antlr4::Token* emit() override;
    // Asked by every token made (CommonToken's constructor): as the runtime's, uncast.
    size_t getLine() const override { return simulator_->getLine(); }
    size_t getCharPositionInLine() override { return simulator_->getCharPositionInLine(); }

private:
    antlr4::atn::LexerATNSimulator* simulator_;  // owned by the lexer (Recognizer)
};

}  // namespace amlflow::compiler
