#include "editor/lsp/source_uri.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "compiler/stdlib_files.h"
#include "editor/lsp/document_store.h"
#include "editor/lsp/uri.h"

namespace amlflow::lsp {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStdDisplay = "<std>/";

fs::path cache_root() {
    std::string version = std::string("stdlib-") + AMLFLOW_VERSION;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "amlflow" / version;
    if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "amlflow" / version;
    std::error_code error;
    return fs::temp_directory_path(error) / "amlflow" / version;
}

bool write_if_different(const fs::path& path, std::string_view content) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
        std::ostringstream existing;
        existing << in.rdbuf();
        if (existing.str() == content) return true;
    }
    std::error_code error;
    fs::create_directories(path.parent_path(), error);
    // Write beside, then rename: a second server starting at once never reads half a file.
    fs::path temporary = path;
    temporary += ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) return false;
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        if (!out) return false;
    }
    fs::rename(temporary, path, error);
    return !error;
}

}  // namespace

std::string stdlib_cache_path(const std::string& display) {
    static std::map<std::string, std::string> written;  // once per process and module
    if (auto found = written.find(display); found != written.end()) return found->second;
    if (display.compare(0, kStdDisplay.size(), kStdDisplay) != 0) return "";
    std::string relative = "std/" + display.substr(kStdDisplay.size());
    for (const compiler::EmbeddedFile& file : compiler::embedded_stdlib_files()) {
        if (file.path != relative) continue;
        fs::path target = cache_root() / relative;
        std::string result = write_if_different(target, file.content) ? target.string() : "";
        written[display] = result;
        return result;
    }
    return "";
}

std::string uri_of_source(const compiler::SourceFile& file, const Document& document) {
    if (const compiler::LoadedModule* main = document.module(); main && main->ast->source.get() == &file) {
        return document.uri;
    }
    if (file.path().compare(0, kStdDisplay.size(), kStdDisplay) == 0) {
        std::string cached = stdlib_cache_path(file.path());
        return cached.empty() ? "amlflow-stdlib:" + file.path().substr(kStdDisplay.size()) : path_to_uri(cached);
    }
    return path_to_uri(file.path());
}

}  // namespace amlflow::lsp
