#include "compiler/fast_lexer.h"

#include <array>
#include <memory>
#include <vector>

#include <atn/ATN.h>
#include <atn/LexerATNSimulator.h>
#include <atn/LexerActionExecutor.h>
#include <atn/LexerActionType.h>
#include <atn/LexerChannelAction.h>
#include <atn/PredictionContext.h>
#include <dfa/DFA.h>
#include <dfa/DFAState.h>

#include <CommonToken.h>
#include <Exceptions.h>
#include <LexerNoViableAltException.h>

#include "compiler/shared_dfa.h"
#include "compiler/text_char_stream.h"

namespace amlflow::compiler {

namespace {

using antlr4::atn::LexerATNSimulator;
using antlr4::dfa::DFAState;

class CachingLexerSimulator : public LexerATNSimulator {
public:
    CachingLexerSimulator(antlr4::Lexer* lexer, const antlr4::atn::ATN& atn, SharedDfa& shared, TextCharStream* text)
        : LexerATNSimulator(lexer, atn, shared.dfa, shared.contexts), lexer_(lexer), text_(text) {}

    // The runtime's match (4.9) once the mode's DFA has a start state; the first token of
    // a mode is matched by the runtime, which makes that state.
    size_t match(antlr4::CharStream* input, size_t mode) override {
        DFAState* start = mode < kModes ? _decisionToDFA[mode].s0 : nullptr;
        if (start == nullptr || input != text_) return LexerATNSimulator::match(input, mode);
        _mode = mode;
        _startIndex = text_->index();
        return walk(start);
    }

protected:
    DFAState* getExistingTargetState(DFAState* from, size_t symbol) override { return edge(from, symbol); }

private:
    // Edges are only ever added to the DFA, never changed or removed (nothing here
    // clears it), so an edge read once stays true; each thread keeps its own copy.
    DFAState* edge(DFAState* from, size_t symbol) {
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

    // Where the longest match so far ended.
    struct Accept {
        DFAState* state = nullptr;
        size_t index = 0, line = 0, position = 0;
    };

    // An accept state's lexer commands, when they are one this class does itself.
    struct Command {
        enum Kind : unsigned char { Unknown, Skip, Channel, Other } kind = Unknown;
        size_t channel = 0;
    };

    size_t walk(DFAState* state);
    void take(const Accept& accepted);
    Command command_of(const DFAState& state);

    static constexpr size_t kModes = 4;
    using Row = std::array<DFAState*, MAX_DFA_EDGE + 1>;
    static thread_local std::array<std::vector<std::unique_ptr<Row>>, kModes> edges_;
    static thread_local std::array<std::vector<Command>, kModes> commands_;
    antlr4::Lexer* lexer_;
    TextCharStream* text_;  // the lexer's input: its calls need no virtual dispatch
};

thread_local std::array<std::vector<std::unique_ptr<CachingLexerSimulator::Row>>, CachingLexerSimulator::kModes>
    CachingLexerSimulator::edges_;
thread_local std::array<std::vector<CachingLexerSimulator::Command>, CachingLexerSimulator::kModes>
    CachingLexerSimulator::commands_;

// The runtime's execATN and failOrAccept (4.9), step for step, without its per-token
// bookkeeping (a std::function to release the mark, shared_ptr copies, the lexer
// action executor's virtual dispatch for every space skipped).
size_t CachingLexerSimulator::walk(DFAState* state) {
    TextCharStream* input = text_;
    Accept accepted;
    auto capture = [&](DFAState* at) { accepted = {at, input->index(), _line, _charPositionInLine}; };
    if (state->isAcceptState) capture(state);
    size_t symbol = input->LA(1);
    for (;;) {
        DFAState* target = edge(state, symbol);
        if (target == nullptr) target = computeTargetState(input, state, symbol);
        if (target == ERROR.get()) break;
        if (symbol != antlr4::Token::EOF) {
            if (symbol == '\n') {
                ++_line;
                _charPositionInLine = 0;
            } else {
                ++_charPositionInLine;
            }
            input->consume();
        }
        if (target->isAcceptState) {
            capture(target);
            if (symbol == antlr4::Token::EOF) break;
        }
        symbol = input->LA(1);
        state = target;
    }
    if (accepted.state != nullptr) {
        take(accepted);
        return accepted.state->prediction;
    }
    if (symbol == antlr4::Token::EOF && input->index() == _startIndex) return antlr4::Token::EOF;
    throw antlr4::LexerNoViableAltException(_recog, input, _startIndex, state->configs.get());
}

// The runtime's accept: back to where the match ended, and the token's lexer commands.
// A lone `skip` or `channel(...)`, which is all this grammar has, is done here directly.
void CachingLexerSimulator::take(const Accept& accepted) {
    text_->seek(accepted.index);
    _line = accepted.line;
    _charPositionInLine = accepted.position;
    const auto& executor = accepted.state->lexerActionExecutor;
    if (executor == nullptr) return;
    Command command = command_of(*accepted.state);
    if (command.kind == Command::Skip) {
        lexer_->skip();
    } else if (command.kind == Command::Channel) {
        lexer_->setChannel(command.channel);
    } else {
        executor->execute(lexer_, text_, _startIndex);
    }
}

// What an accept state's lexer commands come to, worked out once per state.
CachingLexerSimulator::Command CachingLexerSimulator::command_of(const DFAState& state) {
    if (state.stateNumber < 0 || _mode >= kModes) return {Command::Other, 0};
    auto& known = commands_[_mode];
    size_t at = static_cast<size_t>(state.stateNumber);
    if (at >= known.size()) known.resize(at + 1);
    Command& command = known[at];
    if (command.kind != Command::Unknown) return command;
    command.kind = Command::Other;
    auto actions = state.lexerActionExecutor->getLexerActions();
    if (actions.size() == 1 && actions[0]->getActionType() == antlr4::atn::LexerActionType::SKIP) {
        command.kind = Command::Skip;
    } else if (actions.size() == 1 && actions[0]->getActionType() == antlr4::atn::LexerActionType::CHANNEL) {
        command.kind = Command::Channel;
        command.channel = static_cast<size_t>(static_cast<const antlr4::atn::LexerChannelAction&>(*actions[0]).getChannel());
    }
    return command;
}

}  // namespace

FastLexer::FastLexer(TextCharStream* input) : grammar::AmlflowLexer(input) {
    const antlr4::atn::ATN& atn = getATN();
    simulator_ = new CachingLexerSimulator(this, atn, shared_dfa_of<grammar::AmlflowLexer>(atn), input);
    setInterpreter(simulator_);  // deletes the generated lexer's own
}

antlr4::Token* FastLexer::emit() {
    auto made = std::make_unique<antlr4::CommonToken>(std::pair<antlr4::TokenSource*, antlr4::CharStream*>(this, _input),
                                                      type, channel, tokenStartCharIndex, _input->index() - 1);
    made->setLine(tokenStartLine);
    made->setCharPositionInLine(tokenStartCharPositionInLine);
    if (!_text.empty()) made->setText(_text);
    token = std::move(made);
    return token.get();
}

// antlr4::Lexer::nextToken (4.9), with `simulator_` for getInterpreter<...>().
std::unique_ptr<antlr4::Token> FastLexer::nextToken() {
    ssize_t marker = _input->mark();
    struct Release {
        antlr4::CharStream* input;
        ssize_t marker;
        ~Release() { input->release(marker); }
    } release{_input, marker};
    for (;;) {
        if (hitEOF) {
            emitEOF();
            return std::move(token);
        }
        token.reset();
        channel = antlr4::Token::DEFAULT_CHANNEL;
        tokenStartCharIndex = _input->index();
        tokenStartCharPositionInLine = simulator_->getCharPositionInLine();
        tokenStartLine = simulator_->getLine();
        _text = "";
        do {
            type = antlr4::Token::INVALID_TYPE;
            size_t matched;
            try {
                matched = simulator_->match(_input, mode);
            } catch (antlr4::LexerNoViableAltException& e) {
                notifyListeners(e);
                recover(e);
                matched = SKIP;
            }
            if (_input->LA(1) == antlr4::Token::EOF) hitEOF = true;
            if (type == antlr4::Token::INVALID_TYPE) type = matched;
        } while (type == MORE);
        if (type == SKIP) continue;
        if (token == nullptr) emit();
        return std::move(token);
    }
}

}  // namespace amlflow::compiler
