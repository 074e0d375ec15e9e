#include "compiler/fast_prediction.h"

#include <array>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include <Token.h>
#include <TokenStream.h>
#include <atn/ATN.h>
#include <atn/PredictionContext.h>
#include <atn/PredictionMode.h>
#include <dfa/DFA.h>
#include <dfa/DFAState.h>
#include <support/CPPUtils.h>

#include "AmlflowParser.h"
#include "compiler/shared_dfa.h"

namespace amlflow::compiler {

namespace {

using antlr4::atn::ParserATNSimulator;
using antlr4::dfa::DFAState;

class CachingParserSimulator : public ParserATNSimulator {
public:
    CachingParserSimulator(antlr4::Parser* parser, const antlr4::atn::ATN& atn, SharedDfa& shared)
        : ParserATNSimulator(parser, atn, shared.dfa, shared.contexts), decisions_(shared.dfa.size()) {}

    size_t adaptivePredict(antlr4::TokenStream* input, size_t decision, antlr4::ParserRuleContext* outer) override;

private:
    // Token types 0..kColumns-2 and end-of-file; a grammar with more types goes to the runtime.
    static constexpr size_t kColumns = 64;
    static constexpr size_t kPrecedences = 16;
    using Row = std::array<DFAState*, kColumns>;
    struct Decision {
        std::vector<std::unique_ptr<Row>> rows;        // by DFA state number
        DFAState* start = nullptr;                     // the start state, once there is one
        std::array<DFAState*, kPrecedences> starts{};  // a precedence DFA's start states
    };

    size_t runtime_prediction(antlr4::TokenStream* input, size_t decision, antlr4::ParserRuleContext* outer);
    DFAState* start_state(antlr4::dfa::DFA& dfa, Decision& known);
    DFAState* edge(Decision& known, DFAState* from, size_t symbol);

    std::vector<Decision> decisions_;  // this parser's: no lock needed
    static std::shared_mutex precedence_starts_;
};

std::shared_mutex CachingParserSimulator::precedence_starts_;

// The walk of the runtime's execATN over edges already in the DFA, in SLL mode, until
// an accept state without predicates and without a conflict.
size_t CachingParserSimulator::adaptivePredict(antlr4::TokenStream* input, size_t decision,
                                               antlr4::ParserRuleContext* outer) {
    if (getPredictionMode() != antlr4::atn::PredictionMode::SLL || decision >= decisions_.size()) {
        return runtime_prediction(input, decision, outer);
    }
    Decision& known = decisions_[decision];
    DFAState* state = start_state(decisionToDFA[decision], known);
    size_t start = input->index();
    size_t symbol = input->LA(1);
    while (state != nullptr) {
        DFAState* next = edge(known, state, symbol);
        if (next == nullptr || next == ERROR.get() || next->requiresFullContext) break;
        if (next->isAcceptState) {
            if (!next->predicates.empty()) break;
            input->seek(start);
            return next->prediction;
        }
        state = next;
        if (symbol != antlr4::Token::EOF) {
            input->consume();
            symbol = input->LA(1);
        }
    }
    input->seek(start);
    return runtime_prediction(input, decision, outer);
}

// The runtime's adaptivePredict. For a precedence DFA (the left-recursive `expr`) it looks
// up the start state of the parser's precedence without a lock while another thread may be
// adding one under ANTLR's edge lock (4.9's DFA::getPrecedenceStartState): a thread that
// is about to add one runs alone here, the others together.
size_t CachingParserSimulator::runtime_prediction(antlr4::TokenStream* input, size_t decision,
                                                  antlr4::ParserRuleContext* outer) {
    antlr4::dfa::DFA& dfa = decisionToDFA[decision];
    if (!dfa.isPrecedenceDfa()) return ParserATNSimulator::adaptivePredict(input, decision, outer);
    _edgeLock.readLock();
    bool known = dfa.getPrecedenceStartState(parser->getPrecedence()) != nullptr;
    _edgeLock.readUnlock();
    if (known) {
        std::shared_lock<std::shared_mutex> together(precedence_starts_);
        return ParserATNSimulator::adaptivePredict(input, decision, outer);
    }
    std::unique_lock<std::shared_mutex> alone(precedence_starts_);
    return ParserATNSimulator::adaptivePredict(input, decision, outer);
}

DFAState* CachingParserSimulator::start_state(antlr4::dfa::DFA& dfa, Decision& known) {
    if (!dfa.isPrecedenceDfa()) {
        if (known.start == nullptr) {  // the runtime sets it (once) under its state lock
            _stateLock.readLock();
            known.start = dfa.s0;
            _stateLock.readUnlock();
        }
        return known.start;
    }
    int precedence = parser->getPrecedence();
    if (precedence < 0 || static_cast<size_t>(precedence) >= kPrecedences) return nullptr;
    DFAState*& start = known.starts[static_cast<size_t>(precedence)];
    if (start == nullptr) {
        // The runtime sets these under its edge lock but reads them without; read under it.
        _edgeLock.readLock();
        start = dfa.getPrecedenceStartState(precedence);
        _edgeLock.readUnlock();
    }
    return start;
}

// Edges are only ever added to the DFA, never changed or removed (nothing here clears
// it), so an edge read once stays true.
DFAState* CachingParserSimulator::edge(Decision& known, DFAState* from, size_t symbol) {
    size_t column = symbol == antlr4::Token::EOF ? 0 : symbol + 1;
    if (from->stateNumber < 0 || column >= kColumns) return getExistingTargetState(from, symbol);
    size_t state = static_cast<size_t>(from->stateNumber);
    if (state >= known.rows.size()) known.rows.resize(state + 1);
    if (!known.rows[state]) known.rows[state] = std::make_unique<Row>();
    DFAState*& target = (*known.rows[state])[column];
    if (target == nullptr) target = getExistingTargetState(from, symbol);
    return target;
}

}  // namespace

antlr4::atn::ParserATNSimulator* make_fast_prediction(antlr4::Parser* parser) {
    const antlr4::atn::ATN& atn = parser->getATN();
    return new CachingParserSimulator(parser, atn, shared_dfa_of<grammar::AmlflowParser>(atn));
}

}  // namespace amlflow::compiler
