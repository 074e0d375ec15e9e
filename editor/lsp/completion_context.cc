#include "editor/lsp/completion_context.h"

#include "editor/lsp/token_scan.h"

namespace amlflow::lsp {

namespace schema = compiler::schema;
using Where = CompletionContext::Where;
using Block = CompletionContext::Block;

namespace {

struct Frame {
    Block block = Block::TopLevel;
    TokenKind opener = TokenKind::LBrace;  // LBrace, LParen or LBracket
    const compiler::BlockSpec* spec = nullptr;
    std::string step, step_target;
    std::vector<const Token*> direct;  // tokens directly inside (a nested frame's brackets too)
};

bool is_word(const Token* t, std::string_view text = {}) {
    return t && t->kind == TokenKind::Word && (text.empty() || t->text == text);
}

const Token* back(const std::vector<const Token*>& tokens, size_t from_end) {
    return tokens.size() > from_end ? tokens[tokens.size() - 1 - from_end] : nullptr;
}

// The last keyword among `words` directly in the frame, and its position.
size_t last_keyword(const std::vector<const Token*>& d, std::initializer_list<std::string_view> words) {
    for (size_t i = d.size(); i-- > 0;) {
        if (!d[i]->keyword) continue;
        for (std::string_view w : words) {
            if (d[i]->text == w) return i;
        }
    }
    return SIZE_MAX;
}

const compiler::BlockSpec* step_block(std::string_view keyword) {
    if (keyword == "job") return &schema::job();
    if (keyword == "sweep") return &schema::sweep();
    if (keyword == "register") return &schema::register_model();
    if (keyword == "export") return &schema::export_onnx();
    if (keyword == "download") return &schema::download();
    return nullptr;
}

// The frame a `{` opens, from the tokens before it in `parent`.
Frame open_brace(const Frame& parent) {
    Frame f;
    f.block = Block::Other;
    f.step = parent.step;
    f.step_target = parent.step_target;
    const auto& d = parent.direct;
    const Token* prev = back(d, 0);
    if (!is_word(prev) && !(prev && prev->kind == TokenKind::RParen)) return f;  // a map, or `= {`
    if (parent.block == Block::TopLevel) {
        size_t k = last_keyword(d, {"workspace", "environment", "compute", "experiment"});
        if (k == SIZE_MAX) return f;
        const std::string& kw = d[k]->text;
        if (kw == "experiment") f.block = Block::Experiment;
        if (kw == "workspace") f.spec = &schema::workspace();
        if (kw == "environment") f.spec = &schema::environment();
        if (kw == "compute" && k + 3 < d.size() && d[k + 2]->kind == TokenKind::Colon) f.spec = schema::compute(d[k + 3]->text);
        if (f.spec) f.block = Block::Fields;
        return f;
    }
    if (parent.block == Block::Experiment) {
        size_t k = last_keyword(d, {"job", "sweep", "register", "export", "download"});
        if (k == SIZE_MAX) return f;
        f.spec = step_block(d[k]->text);
        f.block = Block::Fields;
        size_t name = d[k]->text == "register" || d[k]->text == "export" ? k + 2 : k + 1;
        f.step = name < d.size() && is_word(d[name]) ? d[name]->text : "";
        f.step_target.clear();
        if (name + 2 < d.size() && (is_word(d[name + 1], "over") || d[name + 1]->kind == TokenKind::Assign) && is_word(d[name + 2])) {
            f.step_target = d[name + 2]->text;
        }
        return f;
    }
    if (parent.block != Block::Fields || !is_word(prev)) return f;
    const Token* before = back(d, 1);
    if (before && before->kind == TokenKind::Assign) {
        // `key = kind { ... }`: a distribution or an early-stop policy.
        const Token* key = back(d, 2);
        const compiler::FieldSpec* field = is_word(key) && parent.spec ? parent.spec->find(key->text) : nullptr;
        if (field && field->type == compiler::FieldType::Distribution) f.spec = schema::distribution(prev->text);
        if (field && field->type == compiler::FieldType::EarlyStop) f.spec = schema::early_stop(prev->text);
    } else if (const compiler::FieldSpec* field = parent.spec ? parent.spec->find(prev->text) : nullptr) {
        // `key { ... }`: a nested block.
        if (field->type == compiler::FieldType::SearchSpace) f.block = Block::SearchSpace;
        f.spec = field->nested;
    }
    if (f.spec) f.block = Block::Fields;
    return f;
}

// Keys written directly in a frame: a word followed by `=`, or by `{` when not a value.
std::set<std::string> written_keys(const std::vector<const Token*>& d) {
    std::set<std::string> keys;
    for (size_t i = 0; i + 1 < d.size(); ++i) {
        if (!is_word(d[i])) continue;
        bool after_assign = i > 0 && d[i - 1]->kind == TokenKind::Assign;
        if (d[i + 1]->kind == TokenKind::Assign || (d[i + 1]->kind == TokenKind::LBrace && !after_assign)) keys.insert(d[i]->text);
    }
    return keys;
}

// The tokens of the cursor's frame after the cursor, up to its closing brace: fields
// written below the cursor are written too.
std::vector<const Token*> rest_of_frame(const std::vector<Token>& tokens, size_t from) {
    std::vector<const Token*> rest;
    int depth = 0;
    for (size_t i = from; i < tokens.size(); ++i) {
        const Token* t = &tokens[i];
        switch (t->kind) {
            case TokenKind::Comment: continue;
            case TokenKind::LBrace: case TokenKind::LParen: case TokenKind::LBracket:
                if (depth++ == 0) rest.push_back(t);
                continue;
            case TokenKind::RBrace: case TokenKind::RParen: case TokenKind::RBracket:
                if (depth == 0) return rest;
                if (--depth == 0) rest.push_back(t);
                continue;
            default:
                if (depth == 0) rest.push_back(t);
        }
    }
    return rest;
}

// The field whose value is being written: the word before the last `=` directly in the frame.
const compiler::FieldSpec* assigned_field(const Frame& frame) {
    const auto& d = frame.direct;
    for (size_t i = d.size(); i-- > 1;) {
        if (d[i]->kind == TokenKind::Assign) return frame.spec && is_word(d[i - 1]) ? frame.spec->find(d[i - 1]->text) : nullptr;
        if (d[i]->kind == TokenKind::Comma || d[i]->kind == TokenKind::LBrace) return nullptr;
    }
    return nullptr;
}

void close_frame(std::vector<Frame>& stack, TokenKind opener, const Token* closer) {
    for (size_t i = stack.size(); i-- > 1;) {
        if (stack[i].opener != opener) {
            if (opener == TokenKind::LBrace) continue;  // a `}` closes unclosed ( and [ inside it
            return;                                     // a stray ) or ]: ignored
        }
        stack.resize(i);
        stack.back().direct.push_back(closer);
        return;
    }
}

std::vector<Frame> nest(const std::vector<Token>& tokens, size_t count) {
    std::vector<Frame> stack(1);
    for (size_t i = 0; i < count; ++i) {
        const Token* t = &tokens[i];
        switch (t->kind) {
            case TokenKind::Comment: break;
            case TokenKind::LBrace:
            case TokenKind::LParen:
            case TokenKind::LBracket: {
                Frame f = t->kind == TokenKind::LBrace ? open_brace(stack.back()) : Frame{};
                if (t->kind != TokenKind::LBrace) {
                    f.block = Block::Other;
                    f.step = stack.back().step;
                    f.step_target = stack.back().step_target;
                }
                f.opener = t->kind;
                stack.back().direct.push_back(t);
                stack.push_back(std::move(f));
                break;
            }
            case TokenKind::RBrace: close_frame(stack, TokenKind::LBrace, t); break;
            case TokenKind::RParen: close_frame(stack, TokenKind::LParen, t); break;
            case TokenKind::RBracket: close_frame(stack, TokenKind::LBracket, t); break;
            default: stack.back().direct.push_back(t);
        }
    }
    return stack;
}

std::vector<std::string> dotted_chain(const std::vector<const Token*>& d) {
    std::vector<std::string> chain;
    size_t i = d.size() - 1;  // d.back() is the dot
    while (i > 0 && is_word(d[i - 1])) {
        chain.insert(chain.begin(), d[i - 1]->text);
        if (i < 2 || d[i - 2]->kind != TokenKind::Dot) break;
        i -= 2;
    }
    return chain;
}

std::vector<const Token*> whole_frame(std::vector<const Token*> before, const std::vector<const Token*>& after) {
    before.insert(before.end(), after.begin(), after.end());
    return before;
}

// Inside `(` or `[`: a job template's parameter list, a `list[` type, or values.
void classify_bracketed(const std::vector<Frame>& stack, const Token* last, CompletionContext& c) {
    const Frame& top = stack.back();
    const Frame* outer = stack.size() >= 2 ? &stack[stack.size() - 2] : nullptr;
    if (top.opener == TokenKind::LParen && outer && outer->block == Block::Experiment) {
        // `job name(p: type = default)`.
        if (last && last->kind == TokenKind::Colon) c.where = Where::Type;
        else if (last && (last->kind == TokenKind::Assign || last->kind == TokenKind::Operator)) c.where = Where::Value;
        return;
    }
    if (top.opener == TokenKind::LBracket && outer && is_word(back(outer->direct, 1), "list")) {
        c.where = Where::Type;  // `list[` in a type
        return;
    }
    // A list's items or a call's arguments: values, typed by the field that holds a list.
    c.where = Where::Value;
    size_t i = stack.size() - 1;
    while (i > 0 && stack[i].opener != TokenKind::LBrace) --i;
    c.field = top.opener == TokenKind::LBracket ? assigned_field(stack[i]) : nullptr;
    c.spec = nullptr;
}

// What is expected after the tokens of the innermost frame.
void classify(const std::vector<Frame>& stack, const std::vector<const Token*>& rest, CompletionContext& c) {
    const Frame& top = stack.back();
    const auto& d = top.direct;
    const Token* last = back(d, 0);
    c.spec = top.spec;
    c.step = top.step;
    c.step_target = top.step_target;
    c.block = top.block;
    if (last && last->kind == TokenKind::Dot) {
        c.chain = dotted_chain(d);
        if (!c.chain.empty()) c.where = Where::Member;
        return;
    }
    if (top.opener != TokenKind::LBrace) return classify_bracketed(stack, last, c);
    if (!last || last->kind == TokenKind::LBrace || last->kind == TokenKind::Comma ||
        (last->kind != TokenKind::Assign && last->kind != TokenKind::Operator && last->kind != TokenKind::Colon &&
         !last->keyword)) {
        c.where = top.block == Block::Other ? Where::None : Where::Key;
        if (c.where == Where::Key) c.written = written_keys(whole_frame(d, rest));
        return;
    }
    if (last->kind == TokenKind::Colon) {
        size_t k = last_keyword(d, {"param", "compute"});
        if (top.block == Block::TopLevel && k != SIZE_MAX) c.where = d[k]->text == "param" ? Where::Type : Where::ComputeKind;
        return;
    }
    if (last->keyword && last->kind == TokenKind::Word) {
        if (last->text == "over") c.where = Where::Template;
        else if (last->text == "from") c.where = Where::Base;
        else if (last->text == "true" || last->text == "false") c.where = top.block == Block::Other ? Where::None : Where::Key;
        else c.where = Where::None;  // a name is being declared: nothing to offer
        if (c.where == Where::Key) c.written = written_keys(whole_frame(d, rest));
        return;
    }
    // After `=` or an operator: a value.
    if (top.block == Block::Experiment && last->kind == TokenKind::Assign) {
        c.where = Where::Template;  // `job b = template(...)`
        return;
    }
    c.where = Where::Value;
    c.field = top.block == Block::Fields ? assigned_field(top) : nullptr;
}

}  // namespace

CompletionContext completion_context(std::string_view text, uint32_t offset) {
    CompletionContext c;
    std::vector<Token> tokens = scan_tokens(text);
    size_t count = 0;
    while (count < tokens.size() && tokens[count].end <= offset) ++count;
    // The token the cursor is in (or at the end of).
    const Token* at = count < tokens.size() && tokens[count].begin < offset ? &tokens[count] : nullptr;
    const Token* before = count > 0 ? &tokens[count - 1] : nullptr;
    if (at && (at->kind == TokenKind::Comment || at->kind == TokenKind::String)) return c;
    if (before && before->end == offset && (before->kind == TokenKind::Word)) {
        at = before;
        --count;
    } else if (before && before->end == offset && before->open) {
        return c;  // at the end of an unterminated string or comment
    } else if (before && before->end == offset && before->kind == TokenKind::Comment &&
               text.substr(before->begin, 2) == "//") {
        return c;  // at the end of a line comment
    }
    if (at && at->kind == TokenKind::Word) {
        c.prefix = std::string(text.substr(at->begin, offset - at->begin));
        c.prefix_begin = at->begin;
    } else {
        c.prefix_begin = offset;
    }
    size_t after = at ? count + 1 : count;  // the word being typed is not written yet
    classify(nest(tokens, count), rest_of_frame(tokens, after), c);
    return c;
}

}  // namespace amlflow::lsp
