// The parsers of a file cut into pieces (compiler/parse_chunks.cc), on this thread and on
// worker threads. Parsing is more than half of a large file's compile and every piece is
// independent of the others, so while this thread lexes and cuts, the workers parse and
// build the pieces' ASTs; this thread does too whenever the queue is full, and when the
// cutting is done. A small file is parsed here alone: threads would
// cost more than they save. Part of the parse driver: only it includes the generated code.
//
// ANTLR 4.9 shares its parser DFA between parsers and guards most of it with its own locks
// (compiler/fast_prediction.cc guards the rest); each worker has its own parsers. Nothing a piece's parse reports reaches the caller: a piece
// that does not parse, or whose AST builder reports anything, makes finish() false, and
// the caller parses the whole file instead, which words every message once and in order.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <Token.h>

#include "compiler/ast.h"
#include "compiler/diagnostics.h"
#include "compiler/utf8.h"

namespace antlr4 {
class CharStream;
}

namespace amlflow::compiler {

// Some top-level declarations, or one step of an experiment: its tokens, and once
// parsed, its AST.
struct Piece {
    enum class Kind { Declarations, Step };
    Kind kind = Kind::Declarations;
    std::vector<std::unique_ptr<antlr4::Token>> tokens;  // emptied once parsed
    std::vector<ast::Decl> decls;                         // Declarations
    std::optional<ast::Step> step;                        // Step (nullopt: it has no name)
};

class PieceParsers {
public:
    // `input` is the stream the tokens were lexed from; it, `file` and `offsets` outlive
    // this object. `workers` threads are started (0: every piece is parsed on this thread).
    // `pack_steps`: each step's body is packed once built (ast_pack.h), templates aside.
    PieceParsers(const SourceFile& file, const OffsetMap& offsets, antlr4::CharStream* input, int workers,
                 bool pack_steps = false);
    ~PieceParsers();
    PieceParsers(const PieceParsers&) = delete;
    PieceParsers& operator=(const PieceParsers&) = delete;

    // Parses `piece` now or later; it must stay where it is until finish(). False once
    // some piece has failed: the caller can stop cutting.
    bool submit(Piece* piece);
    // Waits until every piece is parsed. False when some piece did not parse, or its AST
    // builder reported something.
    bool finish();

    // The number of worker threads worth starting for a text of `bytes` on this machine.
    static int workers_for(size_t bytes);

private:
    struct Shared;
    std::unique_ptr<Shared> shared_;
};

}  // namespace amlflow::compiler
