#include "compiler/loader.h"

#include <fstream>
#include <map>

#include "compiler/parse_driver.h"
#include "compiler/stdlib_files.h"
#include "compiler/suggest.h"
#include "compiler/utf8.h"

namespace amlflow::compiler {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStdPrefix = "std/";
constexpr uintmax_t kMaxFileBytes = 16u << 20;  // a pipeline file is small; this is a guard

std::optional<std::string> read_regular_file(const fs::path& path, std::string* why) {
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
        *why = fs::exists(path, error) ? "it is not a regular file" : "no such file";
        return std::nullopt;
    }
    uintmax_t size = fs::file_size(path, error);
    if (size > kMaxFileBytes) {
        *why = "it is larger than 16 MiB";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        *why = "it cannot be read";
        return std::nullopt;
    }
    // Read into a string of the file's size: one copy of the text, not a stream's buffer
    // grown as it goes and then copied out.
    std::string text;
    text.reserve(static_cast<size_t>(size));
    char buffer[1 << 16];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) text.append(buffer, static_cast<size_t>(in.gcount()));
    if (in.bad()) {
        *why = "it cannot be read";
        return std::nullopt;
    }
    return text;
}

class Loader {
public:
    Loader(ModuleSet& set, Diagnostics& diagnostics, bool pack_steps)
        : set_(set), diagnostics_(diagnostics), pack_steps_(pack_steps) {}

    std::optional<size_t> load(const std::string& display, const fs::path& folder, std::string text,
                               bool is_stdlib, const std::string& key);

private:
    void load_imports(size_t index);
    std::optional<size_t> load_import(const ast::Decl& import, const LoadedModule& from);

    ModuleSet& set_;
    Diagnostics& diagnostics_;
    bool pack_steps_;  // the main file's: only it has steps
    std::map<std::string, size_t> loaded_;  // canonical key -> module index
    std::vector<std::string> stack_;        // keys being loaded, for cycles
    std::map<std::string, std::string> display_of_;
};

std::optional<size_t> Loader::load(const std::string& display, const fs::path& folder,
                                   std::string text, bool is_stdlib, const std::string& key) {
    auto module = std::make_unique<LoadedModule>();
    module->folder = folder;
    module->is_stdlib = is_stdlib;
    auto source = std::make_shared<SourceFile>(display, std::move(text));
    if (auto bad = find_invalid_utf8(source->text())) {
        module->ast = std::make_unique<ast::Module>();
        module->ast->source = source;
        diagnostics_.error("syntax", {source.get(), *bad, *bad + 1}, "the file is not valid UTF-8")
            .help("save it as UTF-8");
    } else {
        module->ast = parse_module(source, diagnostics_, pack_steps_ && set_.modules.empty());
    }
    size_t index = set_.modules.size();
    set_.modules.push_back(std::move(module));
    loaded_[key] = index;
    display_of_[key] = display;
    stack_.push_back(key);
    load_imports(index);
    stack_.pop_back();
    return index;
}

void Loader::load_imports(size_t index) {
    // Copy what is needed first: loading appends to set_.modules.
    std::vector<const ast::Decl*> imports;
    for (const ast::Decl& decl : set_.modules[index]->ast->decls) {
        if (decl.kind == ast::DeclKind::Import) imports.push_back(&decl);
    }
    for (const ast::Decl* import : imports) {
        if (auto loaded = load_import(*import, *set_.modules[index])) {
            set_.modules[index]->imports.emplace_back(import->name.name, *loaded);
        }
    }
}

std::optional<size_t> Loader::load_import(const ast::Decl& import, const LoadedModule& from) {
    const std::string& path = import.import_path;
    if (path.empty()) {
        diagnostics_.error("import", import.import_path_range, "an import needs a path");
        return std::nullopt;
    }
    bool is_std = path.rfind(kStdPrefix, 0) == 0;
    std::string key, display, text, why;
    fs::path folder;
    if (is_std) {
        std::string wanted = path + ".amlflow";
        for (const EmbeddedFile& file : embedded_stdlib_files()) {
            if (file.path == wanted) text = std::string(file.content);
        }
        if (text.empty()) {
            Diagnostic& d = diagnostics_.error("import", import.import_path_range,
                                               "no stdlib module '" + path + "'");
            if (auto near = closest_name(path, stdlib_module_names())) d.help("did you mean '" + *near + "'?");
            else d.note("the stdlib modules are: " + [] {
                std::string all;
                for (const std::string& name : stdlib_module_names()) all += (all.empty() ? "" : ", ") + name;
                return all;
            }());
            return std::nullopt;
        }
        key = "<std>/" + path;
        display = "<std>/" + path.substr(kStdPrefix.size()) + ".amlflow";
    } else {
        fs::path target = fs::path(path).is_absolute() ? fs::path(path) : from.folder / path;
        std::error_code error;
        fs::path canonical = fs::weakly_canonical(target, error);
        key = (error ? target : canonical).string();
        display = target.lexically_normal().string();
        folder = target.parent_path();
    }
    for (size_t i = 0; i < stack_.size(); ++i) {
        if (stack_[i] != key) continue;
        std::string chain;
        for (size_t k = i; k < stack_.size(); ++k) chain += display_of_[stack_[k]] + " -> ";
        diagnostics_.error("import", import.import_path_range, "import cycle: " + chain + display)
            .help("move what both files need into a third file that imports neither");
        return std::nullopt;
    }
    if (auto found = loaded_.find(key); found != loaded_.end()) return found->second;
    if (!is_std) {
        if (fs::path(path).extension() != ".amlflow") {
            diagnostics_.error("import", import.import_path_range,
                               "an imported file must end in '.amlflow': '" + path + "'");
            return std::nullopt;
        }
        auto read = read_regular_file(fs::path(display), &why);
        if (!read) {
            diagnostics_.error("import", import.import_path_range,
                               "cannot import '" + path + "': " + why)
                .note("relative imports start from the importing file's folder");
            return std::nullopt;
        }
        text = std::move(*read);
    }
    return load(display, folder, std::move(text), is_std, key);
}

}  // namespace

std::vector<std::string> stdlib_module_names() {
    std::vector<std::string> names;
    for (const EmbeddedFile& file : embedded_stdlib_files()) {
        std::string_view path = file.path;
        if (path.size() > 8 && path.substr(path.size() - 8) == ".amlflow") {
            names.emplace_back(path.substr(0, path.size() - 8));
        }
    }
    return names;
}

ModuleSet load_modules(const std::string& main_path, const LoadOptions& options,
                       Diagnostics& diagnostics) {
    ModuleSet set;
    Loader loader(set, diagnostics, options.pack_steps);
    std::string text;
    if (options.main_text) {
        text = std::string(*options.main_text);
    } else {
        std::string why;
        auto read = read_regular_file(main_path, &why);
        if (!read) {
            diagnostics.error("io", {}, "cannot read '" + main_path + "': " + why);
            return set;
        }
        text = std::move(*read);
    }
    fs::path folder = fs::path(main_path).parent_path();
    std::error_code error;
    fs::path key = fs::weakly_canonical(main_path, error);
    loader.load(main_path, folder, std::move(text), false, error ? main_path : key.string());
    set.main_loaded = true;
    return set;
}

}  // namespace amlflow::compiler
