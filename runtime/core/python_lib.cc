#include "runtime/core/python_lib.h"

#include <fstream>
#include <sstream>

#include "compiler/stdlib_files.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;

std::optional<fs::path> install_python_lib(const fs::path& store, std::string* error) {
    fs::path folder = store / "lib" / "python";
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) {
        *error = "cannot create " + folder.string() + ": " + ec.message();
        return std::nullopt;
    }
    const std::string prefix = "python/";
    for (const compiler::EmbeddedFile& file : compiler::embedded_stdlib_files()) {
        if (file.path.substr(0, prefix.size()) != prefix) continue;
        fs::path target = folder / std::string(file.path.substr(prefix.size()));
        {
            std::ifstream in(target, std::ios::binary);
            std::stringstream current;
            current << in.rdbuf();
            if (in && current.str() == file.content) continue;
        }
        fs::create_directories(target.parent_path(), ec);
        fs::path temporary = target;
        temporary += ".partial";
        {
            std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
            out.write(file.content.data(), static_cast<std::streamsize>(file.content.size()));
            if (!out) {
                *error = "cannot write " + temporary.string();
                return std::nullopt;
            }
        }
        fs::rename(temporary, target, ec);
        if (ec) {
            *error = "cannot write " + target.string() + ": " + ec.message();
            return std::nullopt;
        }
    }
    return folder;
}

}  // namespace amlflow::runtime
