// A file parsed one top-level declaration at a time, and an experiment one step at a
// time. ANTLR's token and tree objects cost about 125 times the text they stand for;
// parsed in pieces, they never hold more than one declaration or step, and the lexer reads
// the text in place (text_char_stream.h). Part of the parse driver.
//
// Each piece is parsed with SLL prediction and bails out at the first problem. Cuts are
// made before a keyword that starts a declaration (or a step) where the token before it
// can end one; if every piece parses, the pieces joined are a parse of the whole file
// (the grammar is context-free and unambiguous), so the AST is the one a whole-file parse
// gives. Anything else (a syntax error, text nested too deeply, a cut in the wrong place,
// a diagnostic of the AST builder's such as an unterminated string) returns nullopt with
// nothing reported: the caller then parses the whole file as before, and words every
// message exactly as before. A large file's pieces are parsed on several threads
// (compiler/piece_parsers.h).
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
// mark turned into spaces). `workers`: the parser threads to start besides this one; by
// default as many as the text's size and this machine's processors make worth it.
// `pack_steps`: every step but a template comes back packed (ast_pack.h), for a caller
// that checks one step at a time.
constexpr int kWorkersAsFitting = -1;
std::optional<std::vector<ast::Decl>> parse_in_chunks(const SourceFile& file, std::string_view text,
                                                      int workers = kWorkersAsFitting, bool pack_steps = false);

}  // namespace amlflow::compiler
