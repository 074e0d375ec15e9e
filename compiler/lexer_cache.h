// A faster DFA walk for ANTLR's lexer. The runtime (4.9) looks up each character's
// next DFA state in a hash map under a reader-writer lock: about 240 instructions a
// character, a tenth of a large file's whole compile. The simulator installed here keeps
// the edges it has already followed in flat per-state tables (ASCII only, as the
// runtime's own DFA), lock-free, and asks the runtime for the rest: the same DFA, the
// same tokens, the same errors. Part of the parse driver.
#pragma once

namespace amlflow::grammar {
class AmlflowLexer;
}

namespace amlflow::compiler {

// Replaces the lexer's ATN simulator with the caching one (call before lexing).
void install_lexer_edge_cache(grammar::AmlflowLexer& lexer);

}  // namespace amlflow::compiler
