// ANTLR's parser prediction with the DFA's edges read from flat per-state tables. The
// runtime (4.9) looks up every edge of a prediction in a hash map under a global
// reader-writer lock (two mutex round trips, shared by every thread that parses), and
// wraps each prediction in a heap-allocated std::function: about 1,600 instructions a
// decision, an eighth of a large file's compile. Once the DFA holds a decision's path
// for the tokens ahead, the prediction here follows it without a lock; anything else
// (an edge not computed yet, a conflict that needs full context, predicates, an error)
// is the runtime's own adaptivePredict from the start. The same DFA, the same answers.
// Part of the parse driver: only it includes the generated code.
#pragma once

#include <Parser.h>
#include <atn/ParserATNSimulator.h>

namespace amlflow::compiler {

// A simulator for `parser` (a grammar::AmlflowParser), sharing one DFA with every other
// parser made so; the parser owns it (as it owns the one the generated code makes).
antlr4::atn::ParserATNSimulator* make_fast_prediction(antlr4::Parser* parser);

}  // namespace amlflow::compiler
