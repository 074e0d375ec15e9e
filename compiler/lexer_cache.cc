#include "compiler/lexer_cache.h"

#include <array>
#include <memory>
#include <vector>

#include <atn/ATN.h>
#include <atn/LexerATNSimulator.h>
#include <atn/PredictionContext.h>
#include <dfa/DFA.h>
#include <dfa/DFAState.h>

#include "AmlflowLexer.h"

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

void install_lexer_edge_cache(grammar::AmlflowLexer& lexer) {
    const antlr4::atn::ATN& atn = lexer.getATN();
    auto* simulator = new CachingLexerSimulator(&lexer, atn, shared_dfa(atn));
    lexer.setInterpreter(simulator);  // deletes the generated lexer's own
}

}  // namespace amlflow::compiler
