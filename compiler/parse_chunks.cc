#include "compiler/parse_chunks.h"

#include <BailErrorStrategy.h>
#include <CommonTokenFactory.h>
#include <CommonTokenStream.h>
#include <Exceptions.h>
#include <atn/ParserATNSimulator.h>
#include <atn/PredictionMode.h>

#include "AmlflowLexer.h"
#include "AmlflowParser.h"
#include "compiler/ast_builder.h"
#include "compiler/fast_parser.h"
#include "compiler/fast_lexer.h"
#include "compiler/text_char_stream.h"
#include "compiler/utf8.h"

namespace amlflow::compiler {

using grammar::AmlflowLexer;
using grammar::AmlflowParser;
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

// One piece's tokens, then end-of-file tokens for as long as the parser asks.
class PieceSource : public antlr4::TokenSource {
public:
    PieceSource(std::vector<std::unique_ptr<antlr4::Token>> tokens, antlr4::CharStream* input)
        : tokens_(std::move(tokens)), input_(input) {
        if (!tokens_.empty()) end_ = tokens_.back()->getStopIndex() + 1;
    }

    std::unique_ptr<antlr4::Token> nextToken() override {
        if (next_ < tokens_.size()) return std::move(tokens_[next_++]);
        return antlr4::CommonTokenFactory::DEFAULT->create({this, input_}, antlr4::Token::EOF, "EOF",
                                                           antlr4::Token::DEFAULT_CHANNEL, end_, end_ - 1, 0, 0);
    }
    size_t getLine() const override { return 0; }
    size_t getCharPositionInLine() override { return 0; }
    antlr4::CharStream* getInputStream() override { return input_; }
    std::string getSourceName() override { return input_->getSourceName(); }
    antlr4::TokenFactory<antlr4::CommonToken>* getTokenFactory() override {
        return antlr4::CommonTokenFactory::DEFAULT.get();
    }

private:
    std::vector<std::unique_ptr<antlr4::Token>> tokens_;
    antlr4::CharStream* input_;
    size_t next_ = 0;
    size_t end_ = 0;
};

class Chunker {
public:
    Chunker(const SourceFile& file, std::string_view text)
        : file_(file), offsets_(text, 0), input_(text), lexer_(&input_), parser_(nullptr),
          builder_(file, offsets_, reported_, false) {
        lexer_.removeErrorListeners();
        parser_.removeErrorListeners();
        parser_.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
            antlr4::atn::PredictionMode::SLL);
        parser_.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
    }

    // False when the file must be parsed whole instead.
    bool run();
    std::vector<ast::Decl>& decls() { return decls_; }
    const Diagnostics& reported() const { return reported_; }

private:
    enum class State { Top, ExperimentName, ExperimentBrace, Steps };

    bool nesting_bounded(size_t type);
    bool take(std::unique_ptr<antlr4::Token> token, int depth_before);
    bool take_experiment_head(antlr4::Token& token);
    bool flush_declarations();
    bool flush_step();
    template <typename Entry, typename Build>
    bool parse_piece(Entry entry, Build build);
    SourceRange range(antlr4::Token& token) const {
        return {&file_, offsets_.byte_offset(token.getStartIndex()), offsets_.byte_offset(token.getStopIndex() + 1)};
    }

    const SourceFile& file_;
    OffsetMap offsets_;
    TextCharStream input_;
    FastLexer lexer_;
    FastParser parser_;
    Diagnostics reported_;  // the AST builder's, handed on when the whole file parsed
    AstBuilder builder_;

    State state_ = State::Top;
    std::vector<std::unique_ptr<antlr4::Token>> piece_;
    size_t last_type_ = kNoToken;  // of the piece's last token
    int depth_ = 0, minus_run_ = 0;
    ast::Decl experiment_;  // the experiment being read, with the steps so far
    std::vector<ast::Decl> decls_;
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
    return state_ == State::Top && flush_declarations();
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
            decls_.push_back(std::move(experiment_));
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

template <typename Entry, typename Build>
bool Chunker::parse_piece(Entry entry, Build build) {
    PieceSource source(std::move(piece_), &input_);
    piece_.clear();
    last_type_ = kNoToken;
    antlr4::CommonTokenStream tokens(&source);
    parser_.setTokenStream(&tokens);  // frees the previous piece's tree
    try {
        build(entry(parser_));
    } catch (const antlr4::ParseCancellationException&) {
        return false;
    }
    return true;
}

bool Chunker::flush_declarations() {
    if (piece_.empty()) return true;
    return parse_piece([](AmlflowParser& parser) { return parser.file(); },
                       [&](AmlflowParser::FileContext* tree) {
                           for (ast::Decl& decl : builder_.declarations(tree)) decls_.push_back(std::move(decl));
                       });
}

bool Chunker::flush_step() {
    if (piece_.empty()) return true;
    return parse_piece([](AmlflowParser& parser) { return parser.stepChunk(); },
                       [&](AmlflowParser::StepChunkContext* tree) {
                           if (auto step = builder_.step(tree)) experiment_.steps.push_back(std::move(*step));
                       });
}

}  // namespace

std::optional<std::vector<ast::Decl>> parse_in_chunks(const SourceFile& file, std::string_view text,
                                                      Diagnostics& diagnostics) {
    Chunker chunker(file, text);
    if (!chunker.run()) return std::nullopt;
    diagnostics.append(chunker.reported());
    return std::move(chunker.decls());
}

}  // namespace amlflow::compiler
