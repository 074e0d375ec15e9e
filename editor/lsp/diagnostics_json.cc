#include "editor/lsp/diagnostics_json.h"

#include <map>
#include <set>

#include "editor/lsp/document_store.h"
#include "editor/lsp/source_uri.h"

namespace amlflow::lsp {

namespace {

using compiler::Diagnostic;
using compiler::DiagnosticNote;
using nlohmann::json;

constexpr int kError = 1;
constexpr int kWarning = 2;

std::string note_prefix(const DiagnosticNote& note) {
    return note.kind == DiagnosticNote::Kind::Help ? "help: " : "note: ";
}

// A note with a place goes to relatedInformation (editors link it); one without is
// appended to the message, as the terminal shows it.
json convert(const Diagnostic& diagnostic, const Document& document, const json& range) {
    std::string message = diagnostic.message;
    json related = json::array();
    for (const DiagnosticNote& note : diagnostic.notes) {
        if (!note.range.valid()) {
            message += "\n" + note_prefix(note) + note.message;
            continue;
        }
        TextIndex index(note.range.file->text());
        related.push_back({{"location", {{"uri", uri_of_source(*note.range.file, document)},
                                         {"range", index.range_json(note.range.begin, note.range.end)}}},
                           {"message", note.message}});
    }
    json out = {{"range", range},
                {"severity", diagnostic.severity == compiler::Severity::Error ? kError : kWarning},
                {"source", "amlflow"},
                {"message", message}};
    if (!diagnostic.code.empty()) out["code"] = diagnostic.code;
    if (!related.empty()) out["relatedInformation"] = related;
    return out;
}

// For each module the document imports, directly or not, the main module's import
// declaration that brought it in.
std::map<const compiler::SourceFile*, const compiler::ast::Decl*> importing_decls(const compiler::ModuleSet& set) {
    std::map<const compiler::SourceFile*, const compiler::ast::Decl*> out;
    const compiler::LoadedModule& main = *set.modules[0];
    for (const auto& [alias, index] : main.imports) {
        const compiler::ast::Decl* decl = nullptr;
        for (const auto& d : main.ast->decls) {
            if (d.kind == compiler::ast::DeclKind::Import && d.name.name == alias) decl = &d;
        }
        if (decl == nullptr) continue;
        std::vector<size_t> todo{index};
        std::set<size_t> seen;
        while (!todo.empty()) {
            size_t m = todo.back();
            todo.pop_back();
            if (m == 0 || !seen.insert(m).second || m >= set.modules.size()) continue;
            out.emplace(set.modules[m]->ast->source.get(), decl);
            for (const auto& entry : set.modules[m]->imports) todo.push_back(entry.second);
        }
    }
    return out;
}

}  // namespace

json diagnostics_json(const Document& document) {
    json out = json::array();
    const compiler::LoadedModule* main = document.module();
    if (!document.compiled) return out;
    const compiler::SourceFile* self = main ? main->ast->source.get() : nullptr;
    auto imports = main ? importing_decls(document.compiled->modules)
                        : std::map<const compiler::SourceFile*, const compiler::ast::Decl*>{};
    std::set<const compiler::ast::Decl*> reported_imports;
    for (const Diagnostic& diagnostic : document.compiled->diagnostics.sorted()) {
        const compiler::SourceRange& where = diagnostic.range;
        if (!where.valid()) {
            out.push_back(convert(diagnostic, document, document.index.range_json(0, 0)));
        } else if (where.file == self) {
            out.push_back(convert(diagnostic, document, document.index.range_json(where.begin, where.end)));
        } else if (auto found = imports.find(where.file); found != imports.end()) {
            // Errors in an imported file: once per import, on the import itself.
            if (diagnostic.severity != compiler::Severity::Error || !reported_imports.insert(found->second).second) continue;
            const compiler::SourceRange& at = found->second->import_path_range;
            Diagnostic summary = diagnostic;
            summary.message = "the imported file '" + where.file->path() + "' has errors: " + diagnostic.message;
            summary.notes.insert(summary.notes.begin(), DiagnosticNote{DiagnosticNote::Kind::Note, "the first is here", where});
            out.push_back(convert(summary, document, document.index.range_json(at.begin, at.end)));
        }
    }
    return out;
}

json publish_diagnostics(const Document& document) {
    return {{"jsonrpc", "2.0"},
            {"method", "textDocument/publishDiagnostics"},
            {"params", {{"uri", document.uri}, {"version", document.version}, {"diagnostics", diagnostics_json(document)}}}};
}

}  // namespace amlflow::lsp
