#include "compiler/diagnostics.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

namespace amlflow::compiler {

Diagnostic& Diagnostic::note(std::string text, SourceRange where) {
    notes.push_back({DiagnosticNote::Kind::Note, std::move(text), where});
    return *this;
}

Diagnostic& Diagnostic::help(std::string text) {
    notes.push_back({DiagnosticNote::Kind::Help, std::move(text), {}});
    return *this;
}

Diagnostic& Diagnostics::add(Severity severity, std::string code, SourceRange range, std::string message) {
    if (!seen_.emplace(range.file, range.begin, range.end, message).second) {
        discarded_ = Diagnostic{};  // notes added to a repeat go nowhere
        return discarded_;
    }
    if (severity == Severity::Error) ++error_count_;
    items_.push_back({severity, std::move(code), std::move(message), range, {}});
    return items_.back();
}

Diagnostic& Diagnostics::error(std::string code, SourceRange range, std::string message) {
    return add(Severity::Error, std::move(code), range, std::move(message));
}

Diagnostic& Diagnostics::warning(std::string code, SourceRange range, std::string message) {
    return add(Severity::Warning, std::move(code), range, std::move(message));
}

void Diagnostics::append(const Diagnostics& other) {
    for (const Diagnostic& d : other.items_) add(d.severity, d.code, d.range, d.message).notes = d.notes;
}

std::vector<Diagnostic> Diagnostics::sorted() const {
    std::map<const SourceFile*, size_t> file_order;
    for (const Diagnostic& d : items_) file_order.emplace(d.range.file, file_order.size());
    std::vector<Diagnostic> out = items_;
    std::stable_sort(out.begin(), out.end(), [&](const Diagnostic& a, const Diagnostic& b) {
        size_t fa = file_order[a.range.file], fb = file_order[b.range.file];
        if (fa != fb) return fa < fb;
        return a.range.begin < b.range.begin;
    });
    return out;
}

namespace {

struct Palette {
    bool on;
    std::string paint(const std::string& text, const char* code) const {
        return on ? std::string("\x1b[") + code + "m" + text + "\x1b[0m" : text;
    }
};

std::string location_prefix(const SourceRange& range) {
    if (!range.valid()) return "amlflow: ";
    LineColumn at = range.start();
    return range.file->path() + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": ";
}

// The source line with a caret under the range: `^` then `~` to the range's end on
// that line. Tabs in the line are kept in the padding so the caret lines up.
std::string excerpt(const SourceRange& range, const Palette& palette) {
    if (!range.valid()) return "";
    LineColumn start = range.start();
    std::string_view line = range.file->line_text(start.line);
    std::string number = std::to_string(start.line);
    std::string gutter(number.size(), ' ');
    // Work in bytes of the line, count characters for the padding and the marker.
    uint32_t line_start = range.file->line_start(start.line);
    uint32_t first = range.begin - line_start;
    uint32_t last = std::min<uint32_t>(range.end - line_start, static_cast<uint32_t>(line.size()));
    if (range.file->locate(range.end).line != start.line) last = static_cast<uint32_t>(line.size());
    auto is_character = [&](uint32_t i) { return (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80; };
    // A very long line is shown as a window around the caret.
    constexpr uint32_t kWidth = 120;
    std::string before, after;
    if (line.size() > kWidth) {
        uint32_t from = first > 40 ? first - 40 : 0;
        while (from > 0 && !is_character(from)) --from;
        uint32_t to = std::min<uint32_t>(static_cast<uint32_t>(line.size()), from + kWidth);
        while (to < line.size() && !is_character(to)) ++to;
        if (from > 0) before = "...";
        if (to < line.size()) after = "...";
        line = line.substr(from, to - from);
        first -= from;
        last = last > from ? std::min<uint32_t>(last - from, static_cast<uint32_t>(line.size())) : first;
    }
    std::string padding = before.empty() ? "" : "   ";
    for (uint32_t i = 0; i < first && i < line.size(); ++i) {
        if (is_character(i)) padding += line[i] == '\t' ? '\t' : ' ';
    }
    if (first > line.size()) padding.append(first - line.size(), ' ');
    size_t width = 0;
    for (uint32_t i = first; i < last && i < line.size(); ++i) width += is_character(i) ? 1 : 0;
    std::string marker = "^" + std::string(width > 1 ? width - 1 : 0, '~');
    std::string out;
    out += " " + number + " | " + before + std::string(line) + after + "\n";
    out += " " + gutter + " | " + padding + palette.paint(marker, "1;32") + "\n";
    return out;
}

}  // namespace

std::string render_text(const Diagnostic& d, const RenderOptions& options) {
    Palette palette{options.color};
    bool is_error = d.severity == Severity::Error;
    std::string out = palette.paint(location_prefix(d.range), "1");
    out += is_error ? palette.paint("error:", "1;31") : palette.paint("warning:", "1;35");
    out += " " + palette.paint(d.message, "1") + "\n";
    out += excerpt(d.range, palette);
    for (const DiagnosticNote& n : d.notes) {
        bool help = n.kind == DiagnosticNote::Kind::Help;
        std::string label = help ? palette.paint("help:", "1;32") : palette.paint("note:", "1;36");
        if (n.range.valid()) {
            out += palette.paint(location_prefix(n.range), "1") + label + " " + n.message + "\n";
            out += excerpt(n.range, palette);
        } else {
            out += label + " " + n.message + "\n";
        }
    }
    return out;
}

std::string render_text(const Diagnostics& diagnostics, const RenderOptions& options) {
    std::string out;
    for (const Diagnostic& d : diagnostics.sorted()) out += render_text(d, options);
    return out;
}

namespace {

nlohmann::json range_json(const SourceRange& range) {
    if (!range.valid()) return nullptr;
    LineColumn s = range.start(), e = range.finish();
    return {{"file", range.file->path()},
            {"start", {{"line", s.line}, {"column", s.column}, {"offset", range.begin}}},
            {"end", {{"line", e.line}, {"column", e.column}, {"offset", range.end}}}};
}

}  // namespace

std::string render_json(const Diagnostics& diagnostics) {
    nlohmann::json list = nlohmann::json::array();
    for (const Diagnostic& d : diagnostics.sorted()) {
        nlohmann::json notes = nlohmann::json::array();
        for (const DiagnosticNote& n : d.notes) {
            notes.push_back({{"kind", n.kind == DiagnosticNote::Kind::Help ? "help" : "note"},
                             {"message", n.message},
                             {"range", range_json(n.range)}});
        }
        list.push_back({{"severity", d.severity == Severity::Error ? "error" : "warning"},
                        {"code", d.code},
                        {"message", d.message},
                        {"range", range_json(d.range)},
                        {"notes", notes}});
    }
    return list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace amlflow::compiler
