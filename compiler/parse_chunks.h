// A file parsed one top-level declaration at a time, and an experiment one step at a
// time. ANTLR's token and tree objects cost about 125 times the text they stand for;
// parsed in pieces, they never hold more than one declaration or step, and the lexer reads
// the text in place (text_char_stream.h). Part of the parse driver.
//
// Each piece is parsed with SLL prediction and bails out at the first problem. Cuts are
// made before a keyword that starts a declaration (or a step) where the token before it
// can end one; if every piece parses, the pieces joined are a parse of the whole file
// (the grammar is context-free and unambiguous), so the AST is the one a whole-file parse
// gives. Anything else (a syntax error, text nested too deeply, a cut in the wrong place)
// returns nullopt with nothing reported: the caller then parses the whole file as before,
// and words every error exactly as before.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "compiler/ast.h"
#include "compiler/diagnostics.h"

namespace amlflow::compiler {

// The parser recurses once per bracket and per prefix '-': text nested deeper than this
// is refused before parsing, so no input can overflow the stack.
constexpr int kMaxNesting = 200;

// `text` is `file`'s text, or the same number of bytes standing in for it (a byte order
// mark turned into spaces). The AST builder's own diagnostics (an unterminated string,
// an unknown unit) are reported to `diagnostics` only when the whole file parsed.
std::optional<std::vector<ast::Decl>> parse_in_chunks(const SourceFile& file, std::string_view text,
                                                      Diagnostics& diagnostics);

}  // namespace amlflow::compiler
