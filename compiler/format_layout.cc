// The formatter's layout. It walks the tokens once, deciding for each gap between two
// tokens whether the layout breaks the line there, and builds lines; then it lines up
// the `=` of neighbouring members and places trailing comments (format_render.cc).
//
// Line breaks follow the brackets. A bracket pair the author closed on the line that
// opened it stays on one line; one the author broke over lines gets its items on lines of
// their own, one level deeper, and its closing bracket on a line of its own. Inside
// lists and argument lists the author's breaks between items are kept (people group
// `"--flag", value` pairs); elsewhere a break the author made inside an expression is
// kept as a continuation line. So a layout is decided by where brackets close and where
// the author broke expressions, both of which the layout itself preserves: formatting
// twice gives what formatting once gave.
#include "compiler/format_layout.h"

#include "compiler/format_render.h"

namespace amlflow::compiler::format {

namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

// How the layout joins a token to what came before it.
enum class Break {
    Same,      // on the same line (spaced by the token rules)
    Join,      // on the same line even if the author broke it: a block's `{`
    Item,      // on a new line: the next member, step, declaration or list line
    Opened,    // on a new line: the first thing inside a broken bracket pair
    Closer,    // on a new line: the closing bracket of a broken pair
    Continue,  // on a new line one level deeper: the author broke an expression
};

std::string rtrim(std::string text) {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.pop_back();
    return text;
}

// A block comment's lines lose their trailing spaces and carriage returns; the text of
// a `"""` string is kept byte for byte, since it is a value.
std::string normalize_block_comment(const std::string& text) {
    std::string out, line;
    for (char c : text) {
        if (c == '\n') {
            out += rtrim(line) + "\n";
            line.clear();
        } else {
            line += c;
        }
    }
    return out + rtrim(line);
}

class Emitter {
public:
    explicit Emitter(const TokenizedFile& file) : file_(file), seen_(file.containers.size(), 0) {
        stack_.push_back({0, 0, 0});
    }

    std::vector<OutLine> run() {
        std::vector<size_t> gap;
        for (size_t i = 0; i < file_.tokens.size(); ++i) {
            if (tok(i).is_comment() || dropped(i)) {
                gap.push_back(i);
                continue;
            }
            place(gap, i);
            gap.clear();
        }
        return std::move(lines_);
    }

private:
    struct Frame {
        int container;
        int indent;  // the indent of the line the bracket opened on
        int base;    // the indent of the items inside
    };

    const FormatToken& tok(size_t i) const { return file_.tokens[i]; }
    const Container& box(int id) const { return file_.containers[static_cast<size_t>(id)]; }

    size_t next_code(size_t i) const {
        for (++i; i < file_.tokens.size(); ++i) {
            if (!tok(i).is_comment()) return i;
        }
        return kNone;
    }

    // Commas the layout writes itself: a block's (inline blocks get one between members,
    // broken ones none) and a list's trailing comma (broken lists always end with one,
    // inline lists never do).
    bool dropped(size_t i) const {
        const FormatToken& t = tok(i);
        if (t.lex != Lex::Comma || !(t.roles & kSeparator)) return false;
        const Container& c = box(t.bracket);
        if (c.kind == ContainerKind::Block) return true;
        return c.kind == ContainerKind::List && !c.multiline && next_code(i) == c.close;
    }

    bool blank_between(size_t before, size_t after) const {
        return before != kNone && tok(after).line > tok(before).end_line + 1;
    }

    Break decide(size_t i) const {
        const FormatToken& t = tok(i);
        if (t.lex == Lex::End || last_code_ == kNone) return Break::Item;
        if (t.roles & kCloser) return box(t.bracket).multiline ? Break::Closer : Break::Same;
        const FormatToken& previous = tok(last_code_);
        bool author_broke = previous.end_line < t.line;
        if ((previous.roles & kOpener) && box(previous.bracket).multiline) return Break::Opened;
        if (t.roles & kItemStart) {
            const Container& c = box(t.item_of);
            if (!c.multiline) return Break::Same;
            if (c.kind == ContainerKind::List) return author_broke ? Break::Item : Break::Same;
            return Break::Item;
        }
        if (t.lex == Lex::Comma) return Break::Same;
        bool after_header = previous.lex == Lex::Name || (previous.lex == Lex::Close && previous.text == ")");
        if ((t.roles & kOpener) && t.text == "{" && after_header) return Break::Join;
        return author_broke ? Break::Continue : Break::Same;
    }

    static bool inside(Break b) { return b == Break::Item || b == Break::Opened || b == Break::Closer; }

    void place(const std::vector<size_t>& gap, size_t i) {
        const FormatToken& t = tok(i);
        Break how = decide(i);
        if (how == Break::Join && box(t.bracket).multiline && !gap.empty()) return join_before(gap, i);
        add_separators(t, how);
        for (size_t c : gap) place_comment(c, how);
        if (t.lex == Lex::End) return;
        const Frame frame = stack_.back();
        if (how == Break::Same || how == Break::Join) {
            if (open_) {
                mark(t);
                append(space_before(i));
            } else {
                new_line(frame.base + 1, false, i);  // a // comment ended the line
            }
        } else {
            int indent = how == Break::Closer ? frame.indent : inside(how) ? frame.base : frame.base + 1;
            new_line(indent, how == Break::Item && blank_between(prev_source_, i) && !just_opened_, i);
        }
        append_text(t.text);
        after_comment_ = false;
        if (t.roles & kOpener) open_bracket(t, frame);
        if ((t.roles & kCloser) && stack_.size() > 1) stack_.pop_back();
        last_code_ = prev_source_ = i;
    }

    // `job a // why` then `{` on the next line: the `{` joins its header, and the comments
    // move inside the block (one that trailed the header now trails the `{`), rather than
    // leaving the `{` on a line of its own and the whole block one level too deep.
    void join_before(const std::vector<size_t>& gap, size_t i) {
        size_t header = last_code_;
        place({}, i);
        prev_source_ = header;
        for (size_t c : gap) place_comment(c, Break::Opened);
    }

    void open_bracket(const FormatToken& t, const Frame& outer) {
        const Container& c = box(t.bracket);
        int indent = lines_.back().indent;
        stack_.push_back({t.bracket, indent, c.multiline ? indent + 1 : outer.base});
        if (c.multiline) just_opened_ = true;
    }

    void add_separators(const FormatToken& t, Break how) {
        if (how == Break::Closer && box(t.bracket).kind == ContainerKind::List && box(t.bracket).items > 0 &&
            tok(last_code_).lex != Lex::Comma) {
            append(",");
        }
        if (!(t.roles & kItemStart)) return;
        const Container& c = box(t.item_of);
        if (c.kind == ContainerKind::Block && !c.multiline && seen_[t.item_of] > 0) append(",");
        ++seen_[t.item_of];
    }

    void place_comment(size_t c, Break how) {
        const FormatToken& t = tok(c);
        if (t.lex == Lex::Comma) {  // a separator the layout dropped
            prev_source_ = c;
            return;
        }
        bool same_line = prev_source_ != kNone && tok(prev_source_).end_line == t.line;
        if (same_line && open_ && t.lex == Lex::LineComment) {
            lines_.back().comment = rtrim(t.text);
            lines_.back().comment_column = t.column;
            open_ = false;
        } else if (same_line && open_) {
            append(" ");
            append_text(normalize_block_comment(t.text));
            after_comment_ = true;
        } else {
            const Frame& frame = stack_.back();
            bool blank = inside(how) && how != Break::Opened && blank_between(prev_source_, c) && !just_opened_;
            new_line(inside(how) ? frame.base : frame.base + 1, blank, kNone);
            append_text(t.lex == Lex::LineComment ? rtrim(t.text) : normalize_block_comment(t.text));
            if (t.lex == Lex::LineComment) open_ = false;
            after_comment_ = true;
        }
        prev_source_ = c;
    }

    // Spaces between two tokens on one line.
    std::string space_before(size_t i) const {
        const FormatToken& t = tok(i);
        const FormatToken& a = tok(last_code_);
        if (t.lex == Lex::Comma) return "";
        if (after_comment_) return " ";
        if (t.lex == Lex::Close) return t.text == "}" && a.text != "{" ? " " : "";
        if (a.lex == Lex::Open) return a.text == "{" ? " " : "";
        if (a.lex == Lex::Dot || t.lex == Lex::Dot) return "";
        if (a.roles & kUnaryMinus) return "";
        if (t.lex == Lex::Open && t.text == "(") return a.lex == Lex::Name ? "" : " ";
        if (t.lex == Lex::Open && t.text == "[" && box(t.bracket).kind == ContainerKind::Type) return "";
        if (t.lex == Lex::Colon) return (t.roles & kComputeColon) ? " " : "";
        return " ";
    }

    // Records where a member's `=` (or a compute declaration's `:` and `{`) sits, when
    // the member starts its line, so that neighbouring lines can be lined up.
    void mark(const FormatToken& t) {
        OutLine& line = lines_.back();
        if (line.raw || line.first_token != t.anchor) return;
        if (t.roles & kAssignMark) line.marks.push_back({line.code.size(), 'A'});
        if (t.roles & kComputeColon) line.marks.push_back({line.code.size(), 'C'});
        if (t.roles & kComputeBrace) line.marks.push_back({line.code.size(), 'B'});
    }

    void new_line(int indent, bool blank, size_t first_token) {
        if (blank && !lines_.empty() && !lines_.back().blank) {
            OutLine empty;
            empty.blank = true;
            lines_.push_back(empty);
        }
        OutLine line;
        line.indent = indent;
        line.first_token = first_token;
        lines_.push_back(line);
        open_ = true;
        just_opened_ = false;
    }

    void append(const std::string& text) { lines_.back().code += text; }

    // Text that spans lines (a `"""` string, a block comment) continues on raw lines,
    // printed as they are: re-indenting them would change a string's value.
    void append_text(const std::string& text) {
        size_t start = 0;
        for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
            append(text.substr(start, nl - start));
            OutLine raw;
            raw.raw = true;
            raw.indent = lines_.back().indent;
            lines_.push_back(raw);
            start = nl + 1;
        }
        append(text.substr(start));
    }

    const TokenizedFile& file_;
    std::vector<OutLine> lines_;
    std::vector<Frame> stack_;
    std::vector<size_t> seen_;       // items placed so far, per container
    size_t last_code_ = kNone;       // the last token placed (not a comment)
    size_t prev_source_ = kNone;     // the last token passed, comments and dropped commas included
    bool open_ = false;              // lines_.back() takes more text
    bool just_opened_ = false;       // no line since a broken bracket opened: no blank line
    bool after_comment_ = false;     // the line ends with a block comment
};

}  // namespace

std::string lay_out(const TokenizedFile& file) {
    Emitter emitter(file);
    std::vector<OutLine> lines = emitter.run();
    return render_lines(lines);
}

}  // namespace amlflow::compiler::format
