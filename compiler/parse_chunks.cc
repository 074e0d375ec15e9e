#include "compiler/parse_chunks.h"

#include <deque>

#include "AmlflowLexer.h"
#include "compiler/fast_lexer.h"
#include "compiler/piece_parsers.h"
#include "compiler/text_char_stream.h"
#include "compiler/utf8.h"

namespace amlflow::compiler {

using grammar::AmlflowLexer;
using L = AmlflowLexer;

namespace {

constexpr size_t kNoToken = 0;  // no token type is 0

bool starts_declaration(size_t type) {
    return type == L::IMPORT || type == L::PARAM || type == L::LET || type == L::WORKSPACE ||
           type == L::ENVIRONMENT || type == L::COMPUTE || type == L::EXPERIMENT;
}

bool starts_step(size_t type) {
    return type == L::JOB || type == L::SWEEP || type == L::REGISTER || type == L::EXPORT || type == L::DOWNLOAD;
}

// Tokens after which a declaration cannot be over: an operator, a separator, or a keyword
// that needs a name or a string after it. A cut is never made right after one. (A cut in
// the wrong place only costs the whole-file parse; this keeps valid files from needing it.)
bool needs_more(size_t type) {
    switch (type) {
        case L::ASSIGN: case L::COLON: case L::DOT: case L::COMMA: case L::AS: case L::FROM:
        case L::PLUS: case L::MINUS: case L::STAR: case L::SLASH: case L::PERCENT:
        case L::LPAREN: case L::LBRACKET: case L::LBRACE:
            return true;
        default:
            return starts_declaration(type);
    }
}

// `ident` in the grammar: an ID, or a keyword used as a name.
bool is_name(size_t type) { return type == L::ID || (type >= L::IMPORT && type <= L::FROM); }

class Chunker {
public:
    Chunker(const SourceFile& file, std::string_view text, int workers, bool pack_steps)
        : file_(file), offsets_(text, 0), input_(text), lexer_(&input_),
          parsers_(file, offsets_, &input_, workers, pack_steps) {
        lexer_.removeErrorListeners();
    }

    // False when the file must be parsed whole instead.
    bool run();
    // The declarations in file order, once run() returned true.
    std::vector<ast::Decl> decls();

private:
    enum class State { Top, ExperimentName, ExperimentBrace, Steps };
    // A run of top-level declarations, or an experiment and its steps.
    struct Entry {
        Piece* declarations = nullptr;
        ast::Decl experiment;
        std::vector<Piece*> steps;
    };

    bool nesting_bounded(size_t type);
    bool take(std::unique_ptr<antlr4::Token> token, int depth_before);
    bool take_experiment_head(antlr4::Token& token);
    bool flush_declarations();
    bool flush_step();
    Piece* submit(Piece::Kind kind);
    SourceRange range(antlr4::Token& token) const {
        return {&file_, offsets_.byte_offset(token.getStartIndex()), offsets_.byte_offset(token.getStopIndex() + 1)};
    }

    const SourceFile& file_;
    OffsetMap offsets_;
    TextCharStream input_;
    FastLexer lexer_;
    std::deque<Piece> pieces_;  // where they stay while parsed
    PieceParsers parsers_;      // after pieces_: its workers are joined before pieces_ goes

    State state_ = State::Top;
    std::vector<std::unique_ptr<antlr4::Token>> piece_;
    size_t last_type_ = kNoToken;  // of the piece's last token
    int depth_ = 0, minus_run_ = 0;
    ast::Decl experiment_;  // the experiment being read, without its steps
    std::vector<Piece*> steps_;
    std::vector<Entry> entries_;
};

bool Chunker::run() {
    for (;;) {
        std::unique_ptr<antlr4::Token> token = lexer_.nextToken();
        size_t type = token->getType();
        if (type == antlr4::Token::EOF) break;
        if (token->getChannel() != antlr4::Token::DEFAULT_CHANNEL) continue;  // comments
        int depth_before = depth_;
        if (!nesting_bounded(type) || !take(std::move(token), depth_before)) return false;
    }
    return state_ == State::Top && flush_declarations() && parsers_.finish();
}

std::vector<ast::Decl> Chunker::decls() {
    std::vector<ast::Decl> decls;
    for (Entry& entry : entries_) {
        if (entry.declarations != nullptr) {
            for (ast::Decl& decl : entry.declarations->decls) decls.push_back(std::move(decl));
            continue;
        }
        for (Piece* step : entry.steps) {
            if (step->step) entry.experiment.steps.push_back(std::move(*step->step));
        }
        decls.push_back(std::move(entry.experiment));
    }
    return decls;
}

// As nesting_is_bounded in parse_driver.cc, token by token: false when too deep.
bool Chunker::nesting_bounded(size_t type) {
    minus_run_ = type == L::MINUS ? minus_run_ + 1 : 0;
    if (type == L::LPAREN || type == L::LBRACKET || type == L::LBRACE) ++depth_;
    if (type == L::RPAREN || type == L::RBRACKET || type == L::RBRACE) --depth_;
    return depth_ <= kMaxNesting && minus_run_ <= kMaxNesting && depth_ >= 0;
}

bool Chunker::take(std::unique_ptr<antlr4::Token> token, int depth_before) {
    size_t type = token->getType();
    if (state_ == State::ExperimentName || state_ == State::ExperimentBrace) return take_experiment_head(*token);
    bool cut = piece_.empty() || !needs_more(last_type_);
    if (state_ == State::Top && depth_before == 0 && starts_declaration(type) && cut) {
        if (!flush_declarations()) return false;
        if (type == L::EXPERIMENT) {
            experiment_ = ast::Decl{};
            experiment_.kind = ast::DeclKind::Experiment;
            experiment_.keyword_range = range(*token);
            state_ = State::ExperimentName;
            return true;
        }
    } else if (state_ == State::Steps && depth_before == 1) {
        if (type == L::RBRACE) {  // the experiment's end
            if (!flush_step()) return false;
            experiment_.range = SourceRange::cover(experiment_.keyword_range, range(*token));
            entries_.push_back({nullptr, std::move(experiment_), std::move(steps_)});
            steps_.clear();
            state_ = State::Top;
            return true;
        }
        bool after_step = piece_.empty() || last_type_ == L::RBRACE || last_type_ == L::RPAREN;
        if (starts_step(type) && after_step && !flush_step()) return false;
    }
    last_type_ = type;
    piece_.push_back(std::move(token));
    return true;
}

// `experiment NAME {`: read here, not parsed, so the steps can be parsed one by one.
bool Chunker::take_experiment_head(antlr4::Token& token) {
    if (state_ == State::ExperimentName) {
        if (!is_name(token.getType())) return false;
        experiment_.name = {token.getText(), range(token)};
        state_ = State::ExperimentBrace;
        return true;
    }
    if (token.getType() != L::LBRACE) return false;
    state_ = State::Steps;
    return true;
}

// Hands the tokens gathered so far to the parsers as one piece; nullptr once a piece failed.
Piece* Chunker::submit(Piece::Kind kind) {
    Piece& piece = pieces_.emplace_back();
    piece.kind = kind;
    piece.tokens = std::move(piece_);
    piece_.clear();
    last_type_ = kNoToken;
    return parsers_.submit(&piece) ? &piece : nullptr;
}

bool Chunker::flush_declarations() {
    if (piece_.empty()) return true;
    Piece* piece = submit(Piece::Kind::Declarations);
    if (piece != nullptr) entries_.push_back({piece, {}, {}});
    return piece != nullptr;
}

bool Chunker::flush_step() {
    if (piece_.empty()) return true;
    Piece* piece = submit(Piece::Kind::Step);
    if (piece != nullptr) steps_.push_back(piece);
    return piece != nullptr;
}

}  // namespace

std::optional<std::vector<ast::Decl>> parse_in_chunks(const SourceFile& file, std::string_view text,
                                                      int workers, bool pack_steps) {
    Chunker chunker(file, text, workers == kWorkersAsFitting ? PieceParsers::workers_for(text.size()) : workers,
                    pack_steps);
    if (!chunker.run()) return std::nullopt;
    return chunker.decls();
}

}  // namespace amlflow::compiler
