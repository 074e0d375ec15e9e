#include "compiler/yaml_outline.h"

namespace amlflow::compiler {

const YamlNode* YamlNode::find(std::string_view key) const {
    for (const auto& [k, v] : entries) {
        if (k.text == key) return &v;
    }
    return nullptr;
}

namespace {

// One line with something on it: where its content starts and ends (comment and trailing
// blanks left out) and how far it is indented. A sequence item's content ("- pip:") is read
// as a line of its own, indented to where it starts.
struct Line {
    uint32_t indent = 0;
    uint32_t begin = 0, end = 0;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Where the content of [begin, end) ends: before a comment (a `#` after a blank, outside quotes).
uint32_t content_end(std::string_view text, uint32_t begin, uint32_t end) {
    char quote = 0;
    uint32_t last = begin;
    for (uint32_t i = begin; i < end; ++i) {
        char c = text[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '#' && (i == begin || is_blank(text[i - 1]))) {
            break;
        } else if ((c == '"' || c == '\'') && (i == begin || is_blank(text[i - 1]) || text[i - 1] == '[' ||
                                                 text[i - 1] == ',')) {
            quote = c;
        }
        if (!is_blank(c)) last = i + 1;
    }
    return last;
}

class Reader {
public:
    explicit Reader(std::string_view text) : text_(text) {}

    YamlOutline read() {
        YamlOutline out;
        if (!split_lines()) {
            out.error = error_;
            out.error_at = error_at_;
            return out;
        }
        if (lines_.empty()) return out;
        YamlNode root = node(lines_[0].indent);
        if (error_.empty() && at_ < lines_.size()) fail(lines_[at_].begin, "a line indented less than the document's first");
        if (!error_.empty()) {
            out.error = error_;
            out.error_at = error_at_;
            return out;
        }
        out.root = std::move(root);
        return out;
    }

private:
    bool split_lines() {
        uint32_t at = 0, size = static_cast<uint32_t>(text_.size());
        bool first = true;
        while (at < size) {
            uint32_t end = at;
            while (end < size && text_[end] != '\n') ++end;
            uint32_t line_end = end > at && text_[end - 1] == '\r' ? end - 1 : end;
            uint32_t begin = at;
            while (begin < line_end && text_[begin] == ' ') ++begin;
            uint32_t stop = content_end(text_, begin, line_end);
            if (begin < stop && text_[begin] == '\t') return fail(begin, "a tab in the indentation (YAML indents with spaces)");
            std::string_view content = text_.substr(begin, stop - begin);
            bool marker = begin == at && (content == "---" || content.rfind("--- ", 0) == 0);
            if (content == "..." && begin == at) break;
            if (marker && !first) break;  // a second document: only the first is read
            if (!marker && stop > begin) lines_.push_back({begin - at, begin, stop});
            if (marker || stop > begin) first = false;
            at = end + 1;
        }
        return true;
    }

    bool fail(uint32_t where, std::string message) {
        if (error_.empty()) {
            error_ = std::move(message);
            error_at_ = where;
        }
        at_ = lines_.size();
        return false;
    }

    std::string_view content(const Line& line) const { return text_.substr(line.begin, line.end - line.begin); }

    static bool is_item(std::string_view content) { return content == "-" || content.rfind("- ", 0) == 0; }

    // Where a `key:` ends on a line (the colon's offset in `content`), or npos.
    static size_t key_colon(std::string_view content) {
        char quote = 0;
        for (size_t i = 0; i < content.size(); ++i) {
            char c = content[i];
            if (quote) {
                if (c == quote) quote = 0;
                continue;
            }
            if ((c == '"' || c == '\'') && i == 0) quote = c;
            if (c == '[' || c == '{') return std::string_view::npos;
            if (c == ':' && (i + 1 == content.size() || is_blank(content[i + 1]))) return i;
        }
        return std::string_view::npos;
    }

    // The node whose first line is lines_[at_], indented `indent`.
    YamlNode node(uint32_t indent) {
        std::string_view first = content(lines_[at_]);
        if (is_item(first)) return sequence(indent);
        if (key_colon(first) != std::string_view::npos) return mapping(indent);
        YamlNode value = inline_value(lines_[at_].begin, lines_[at_].end);
        ++at_;
        // A plain scalar continued on the lines below: not read here.
        while (at_ < lines_.size() && lines_[at_].indent > indent) {
            value.kind = YamlNode::Kind::Opaque;
            value.end = lines_[at_].end;
            ++at_;
        }
        return value;
    }

    YamlNode sequence(uint32_t indent) {
        YamlNode out;
        out.kind = YamlNode::Kind::Sequence;
        out.begin = lines_[at_].begin;
        while (at_ < lines_.size() && error_.empty() && lines_[at_].indent == indent && is_item(content(lines_[at_]))) {
            Line& line = lines_[at_];
            uint32_t after = line.begin + 1;
            while (after < line.end && text_[after] == ' ') ++after;
            if (after == line.end) {  // "-" alone: the item is the block below, or null
                ++at_;
                out.items.push_back(block_below(indent, line.end, false));
            } else {
                // "- pip:" or "- name=1.0": the rest read as a line of its own.
                line.indent += after - line.begin;
                line.begin = after;
                out.items.push_back(node(line.indent));
            }
            out.end = out.items.back().end;
        }
        if (error_.empty() && at_ < lines_.size() && lines_[at_].indent > indent) {
            fail(lines_[at_].begin, "a line indented more than the list item above it");
        }
        return out;
    }

    YamlNode mapping(uint32_t indent) {
        YamlNode out;
        out.kind = YamlNode::Kind::Mapping;
        out.begin = lines_[at_].begin;
        while (at_ < lines_.size() && error_.empty() && lines_[at_].indent == indent) {
            const Line line = lines_[at_];
            std::string_view text = content(line);
            size_t colon = key_colon(text);
            if (is_item(text)) break;  // a list at the key's indentation belongs to the key above
            if (colon == std::string_view::npos) {
                fail(line.begin, "expected 'key: value' in a mapping");
                break;
            }
            YamlNode key = inline_value(line.begin, line.begin + static_cast<uint32_t>(colon));
            uint32_t value_begin = line.begin + static_cast<uint32_t>(colon) + 1;
            while (value_begin < line.end && text_[value_begin] == ' ') ++value_begin;
            ++at_;
            YamlNode value = value_begin < line.end ? inline_value(value_begin, line.end)
                                                    : block_below(indent, line.end, true);
            // A plain scalar continued on the lines below: not read here.
            while (value_begin < line.end && at_ < lines_.size() && lines_[at_].indent > indent) {
                value.kind = YamlNode::Kind::Opaque;
                value.end = lines_[at_++].end;
            }
            out.entries.emplace_back(std::move(key), std::move(value));
            out.end = out.entries.back().second.end;
        }
        if (error_.empty() && at_ < lines_.size() && lines_[at_].indent > indent) {
            fail(lines_[at_].begin, "a line indented more than the mapping around it");
        }
        return out;
    }

    // What follows "key:" or "-" on the lines below: a block indented more (or, after a key, a
    // list at the key's own indentation), else null.
    YamlNode block_below(uint32_t indent, uint32_t where, bool after_key) {
        if (at_ < lines_.size() && (lines_[at_].indent > indent ||
                                    (after_key && lines_[at_].indent == indent && is_item(content(lines_[at_]))))) {
            return node(lines_[at_].indent);
        }
        YamlNode null;
        null.begin = null.end = where;
        return null;
    }

    // A value written on one line: a quoted or plain scalar, or a `[a, b]` list of them.
    YamlNode inline_value(uint32_t begin, uint32_t end) {
        YamlNode out;
        out.begin = begin;
        out.end = end;
        std::string_view text = text_.substr(begin, end - begin);
        char c = text.empty() ? 0 : text[0];
        if (c == '[' && text.back() == ']') return flow_list(begin, end);
        if (c == '&' || c == '*' || c == '!' || c == '|' || c == '>' || c == '{' || c == '[' || c == '%' || c == '@' ||
            c == '`') {
            out.kind = YamlNode::Kind::Opaque;
            return out;
        }
        if ((c == '"' || c == '\'') && text.size() >= 2 && text.back() == c) {
            out.kind = YamlNode::Kind::Scalar;
            out.text = unquote(text);
            return out;
        }
        if (c == '"' || c == '\'') {
            out.kind = YamlNode::Kind::Opaque;  // a quoted scalar over several lines
            return out;
        }
        bool null = text == "~" || text == "null" || text == "Null" || text == "NULL";
        out.kind = null ? YamlNode::Kind::Null : YamlNode::Kind::Scalar;
        if (!null) out.text = std::string(text);
        return out;
    }

    YamlNode flow_list(uint32_t begin, uint32_t end) {
        YamlNode out;
        out.kind = YamlNode::Kind::Sequence;
        out.begin = begin;
        out.end = end;
        uint32_t at = begin + 1, stop = end - 1;
        while (at < stop) {
            while (at < stop && is_blank(text_[at])) ++at;
            uint32_t item_end = at;
            char quote = 0;
            while (item_end < stop && (quote || text_[item_end] != ',')) {
                char c = text_[item_end];
                if (quote && c == quote) quote = 0;
                else if (!quote && (c == '"' || c == '\'')) quote = c;
                else if (!quote && (c == '[' || c == '{')) out.kind = YamlNode::Kind::Opaque;  // nested: not read
                ++item_end;
            }
            uint32_t last = item_end;
            while (last > at && is_blank(text_[last - 1])) --last;
            if (last > at) out.items.push_back(inline_value(at, last));
            at = item_end + 1;
        }
        return out;
    }

    static std::string unquote(std::string_view text) {
        std::string out;
        char quote = text[0];
        for (size_t i = 1; i + 1 < text.size(); ++i) {
            if (quote == '\'' && text[i] == '\'' && i + 2 < text.size() && text[i + 1] == '\'') {
                out += '\'';
                ++i;
            } else if (quote == '"' && text[i] == '\\' && i + 2 < text.size()) {
                char next = text[++i];
                out += next == 'n' ? '\n' : next == 't' ? '\t' : next;
            } else {
                out += text[i];
            }
        }
        return out;
    }

    std::string_view text_;
    std::vector<Line> lines_;
    size_t at_ = 0;
    std::string error_;
    uint32_t error_at_ = 0;
};

}  // namespace

YamlOutline read_yaml_outline(std::string_view text) { return Reader(text).read(); }

}  // namespace amlflow::compiler
