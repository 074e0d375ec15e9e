// The DFA of one of the generated recognizers, one per decision, made from its ATN, and
// its prediction context cache: shared by every FastLexer (or every FastParser) of this
// process, as the generated code shares its own, which is private to it and left unused.
// ANTLR guards additions to it with its own locks. Part of the parse driver.
#pragma once

#include <vector>

#include <atn/ATN.h>
#include <atn/PredictionContext.h>
#include <dfa/DFA.h>

namespace amlflow::compiler {

struct SharedDfa {
    explicit SharedDfa(const antlr4::atn::ATN& atn) {
        size_t count = atn.getNumberOfDecisions();
        dfa.reserve(count);
        for (size_t i = 0; i < count; ++i) dfa.emplace_back(atn.getDecisionState(i), i);
    }
    std::vector<antlr4::dfa::DFA> dfa;
    antlr4::atn::PredictionContextCache contexts;
};

// The one SharedDfa of `Recognizer` (grammar::AmlflowLexer or grammar::AmlflowParser).
template <typename Recognizer>
SharedDfa& shared_dfa_of(const antlr4::atn::ATN& atn) {
    static SharedDfa shared(atn);
    return shared;
}

}  // namespace amlflow::compiler
