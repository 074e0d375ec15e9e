#include "compiler/fast_lexer.h"

#include <array>
#include <memory>
#include <vector>

#include <atn/ATN.h>
#include <atn/LexerATNSimulator.h>
#include <atn/PredictionContext.h>
#include <dfa/DFA.h>
#include <dfa/DFAState.h>

#include <Exceptions.h>
#include <LexerNoViableAltException.h>

namespace amlflow::compiler {

namespace {

using antlr4::atn::LexerATNSimulator;
using antlr4::dfa::DFAState;

// The lexer's DFA, one per mode, shared by every lexer of this process as the generated
// lexer shares its own (which is left unused).
struct SharedDfa {
    explicit SharedDfa(const antlr4::atn::ATN& atn) {
        size_t count = atn.getNumberOfDecisions();
        dfa.reserve(count);
        for (size_t i = 0; i < count; ++i) dfa.emplace_back(atn.getDecisionState(i), i);
    }
    std::vector<antlr4::dfa::DFA> dfa;
    antlr4::atn::PredictionContextCache contexts;
};

SharedDfa& shared_dfa(const antlr4::atn::ATN& atn) {
    static SharedDfa shared(atn);
    return shared;
}

class CachingLexerSimulator : public LexerATNSimulator {
public:
    CachingLexerSimulator(antlr4::Lexer* lexer, const antlr4::atn::ATN& atn, SharedDfa& shared)
        : LexerATNSimulator(lexer, atn, shared.dfa, shared.contexts) {}

protected:
    // Edges are only ever added to the DFA, never changed or removed (nothing here
    // clears it), so an edge read once stays true; each thread keeps its own copy.
    DFAState* getExistingTargetState(DFAState* from, size_t symbol) override {
        if (symbol > MAX_DFA_EDGE || from->stateNumber < 0 || _mode >= kModes) {
            return LexerATNSimulator::getExistingTargetState(from, symbol);
        }
        auto& rows = edges_[_mode];
        size_t state = static_cast<size_t>(from->stateNumber);
        if (state >= rows.size()) rows.resize(state + 1);
        if (!rows[state]) rows[state] = std::make_unique<Row>();
        DFAState*& edge = (*rows[state])[symbol];
        if (edge == nullptr) edge = LexerATNSimulator::getExistingTargetState(from, symbol);
        return edge;
    }

private:
    static constexpr size_t kModes = 4;
    using Row = std::array<DFAState*, MAX_DFA_EDGE + 1>;
    static thread_local std::array<std::vector<std::unique_ptr<Row>>, kModes> edges_;
};

thread_local std::array<std::vector<std::unique_ptr<CachingLexerSimulator::Row>>, CachingLexerSimulator::kModes>
    CachingLexerSimulator::edges_;

}  // namespace

FastLexer::FastLexer(antlr4::CharStream* input) : grammar::AmlflowLexer(input) {
    const antlr4::atn::ATN& atn = getATN();
    simulator_ = new CachingLexerSimulator(this, atn, shared_dfa(atn));
    setInterpreter(simulator_);  // deletes the generated lexer's own
}

// antlr4::Lexer::nextToken (4.9), with `simulator_` for getInterpreter<...>().
std::unique_ptr<antlr4::Token> FastLexer::nextToken() {
    ssize_t marker = _input->mark();
    struct Release {
        antlr4::CharStream* input;
        ssize_t marker;
        ~Release() { input->release(marker); }
    } release{_input, marker};
    for (;;) {
        if (hitEOF) {
            emitEOF();
            return std::move(token);
        }
        token.reset();
        channel = antlr4::Token::DEFAULT_CHANNEL;
        tokenStartCharIndex = _input->index();
        tokenStartCharPositionInLine = simulator_->getCharPositionInLine();
        tokenStartLine = simulator_->getLine();
        _text = "";
        do {
            type = antlr4::Token::INVALID_TYPE;
            size_t matched;
            try {
                matched = simulator_->match(_input, mode);
            } catch (antlr4::LexerNoViableAltException& e) {
                notifyListeners(e);
                recover(e);
                matched = SKIP;
            }
            if (_input->LA(1) == antlr4::Token::EOF) hitEOF = true;
            if (type == antlr4::Token::INVALID_TYPE) type = matched;
        } while (type == MORE);
        if (type == SKIP) continue;
        if (token == nullptr) emit();
        return std::move(token);
    }
}

}  // namespace amlflow::compiler
