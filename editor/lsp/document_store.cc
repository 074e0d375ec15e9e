#include "editor/lsp/document_store.h"

#include "editor/lsp/uri.h"

namespace amlflow::lsp {

const compiler::LoadedModule* Document::module() const {
    if (!compiled || compiled->modules.modules.empty()) return nullptr;
    const compiler::LoadedModule* main = compiled->modules.modules[0].get();
    return main->ast ? main : nullptr;
}

Document& DocumentStore::update(const std::string& uri, std::string text, int64_t version) {
    std::unique_ptr<Document>& slot = documents_[uri];
    if (!slot) {
        slot = std::make_unique<Document>();
        slot->uri = uri;
        slot->path = uri_to_path(uri);
    }
    Document& document = *slot;
    document.text = std::move(text);
    document.version = version;
    document.index = TextIndex(document.text);
    compiler::CompileOptions options;
    options.main_text = document.text;
    options.build_plan = false;  // the editor needs diagnostics, not the plan
    document.compiled = compiler::compile_file(document.path, options);
    return document;
}

void DocumentStore::close(const std::string& uri) { documents_.erase(uri); }

Document* DocumentStore::find(const std::string& uri) {
    auto found = documents_.find(uri);
    return found == documents_.end() ? nullptr : found->second.get();
}

}  // namespace amlflow::lsp
