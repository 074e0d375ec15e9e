// `amlflow fmt [--check] [FILE|DIR...]`: rewrites files in the canonical layout, or with
// `--check` lists those that are not in it (as `gofmt -l` and `black --check` do). A folder
// stands for every .amlflow file under it. `-`, or no file at all, formats standard input
// onto standard output, for editors.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "runtime/report/terminal_sink.h"
#include "compiler/formatter.h"

namespace amlflow::cli {

namespace {

namespace fs = std::filesystem;

struct FmtArgs {
    std::vector<std::string> files;
    bool check = false;
};

bool read_all(std::istream& in, std::string& text) {
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    return !in.bad();
}

// Replaces `path` in one step: a temporary file beside it, then rename, so that a crash or
// a full disk never leaves a half-written pipeline. The file keeps its permissions, and a
// symbolic link keeps pointing at the file it named.
bool replace_file(const std::string& path, const std::string& text, std::string& why) {
    std::error_code error;
    fs::path target = fs::canonical(path, error);
    if (error) target = path;
    // The rename below needs only the folder to be writable: without this a read-only
    // file would be rewritten all the same.
    if (::access(target.c_str(), W_OK) != 0) {
        why = std::strerror(errno);
        return false;
    }
    struct stat info {};
    mode_t mode = ::stat(target.c_str(), &info) == 0 ? (info.st_mode & 07777) : 0644;
    std::string temp = (target.parent_path() / ("." + target.filename().string() + ".fmt-XXXXXX")).string();
    int fd = ::mkstemp(temp.data());
    if (fd < 0) {
        why = std::strerror(errno);
        return false;
    }
    bool written = runtime::write_all(fd, text) && ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
    why = written ? "" : std::strerror(errno);
    written = ::close(fd) == 0 && written;
    if (written && ::rename(temp.c_str(), target.c_str()) == 0) return true;
    if (why.empty()) why = std::strerror(errno);
    ::unlink(temp.c_str());
    return false;
}

// Formats one input. Returns 0 when it was already formatted (or was rewritten), 1 when it
// has errors, cannot be read or written, or (with --check) is not formatted.
int format_one(const std::string& file, bool check, const compiler::RenderOptions& render) {
    bool from_stdin = file == "-";
    std::string name = from_stdin ? "<stdin>" : file;
    std::string text;
    bool read = false;
    if (from_stdin) {
        read = read_all(std::cin, text);
    } else {
        std::ifstream in(file, std::ios::binary);
        read = in && read_all(in, text);
    }
    if (!read) {
        std::cerr << "amlflow: error: cannot read '" << name << "'\n";
        return 1;
    }
    compiler::FormatResult result = compiler::format_source(name, text);
    if (!result.ok) {
        std::cerr << compiler::render_text(result.diagnostics, render);
        return 1;
    }
    bool changed = result.text != text;
    if (check) {
        if (changed) std::cout << name << "\n";
        return changed ? 1 : 0;
    }
    if (from_stdin) {
        std::cout << result.text << std::flush;
        return 0;
    }
    if (!changed) return 0;
    std::string why;
    if (!replace_file(file, result.text, why)) {
        std::cerr << "amlflow: error: cannot write '" << file << "': " << why << "\n";
        return 1;
    }
    std::cout << "formatted " << file << "\n";
    return 0;
}

// The .amlflow files under `folder`, sorted, at any depth. Hidden folders (`.git`, and
// `.amlflow`, the run store, whose recorded files are not the user's to rewrite) are not
// entered; links to folders are not followed, so a link cycle cannot loop.
std::vector<std::string> files_under(const fs::path& folder, std::string& why) {
    std::vector<std::string> found;
    std::error_code error;
    fs::recursive_directory_iterator it(folder, error), end;
    for (; !error && it != end; it.increment(error)) {
        const fs::directory_entry& entry = *it;
        std::string name = entry.path().filename().string();
        std::error_code ignored;
        if (entry.is_directory(ignored) && !entry.is_symlink(ignored)) {
            if (!name.empty() && name[0] == '.') it.disable_recursion_pending();
            continue;
        }
        if (entry.path().extension() == ".amlflow" && entry.is_regular_file(ignored)) {
            found.push_back(entry.path().string());
        }
    }
    if (error) why = error.message();
    std::sort(found.begin(), found.end());
    return found;
}

// The files the arguments name: a folder's .amlflow files in its place, others as given.
// Returns false (having said why) when a folder cannot be read.
bool expand_arguments(const std::vector<std::string>& arguments, std::vector<std::string>& files) {
    for (const std::string& argument : arguments) {
        std::error_code error;
        if (argument == "-" || !fs::is_directory(argument, error)) {
            files.push_back(argument);
            continue;
        }
        std::string why;
        std::vector<std::string> found = files_under(argument, why);
        if (!why.empty()) {
            std::cerr << "amlflow: error: cannot read folder '" << argument << "': " << why << "\n";
            return false;
        }
        if (found.empty()) std::cerr << "amlflow: no .amlflow files under '" << argument << "'\n";
        files.insert(files.end(), found.begin(), found.end());
    }
    return true;
}

}  // namespace

Runner add_fmt_command(CLI::App& app) {
    auto args = std::make_shared<FmtArgs>();
    CLI::App* command = app.add_subcommand(
        "fmt", "Rewrite .amlflow files in the canonical layout (or, with --check, list those not in it)");
    command->add_option("files", args->files,
                        "The files to format, or folders (every .amlflow file under them); '-' or none: standard "
                        "input to standard output")
        ->check(CLI::ExistingPath | CLI::IsMember({"-"}));
    command->add_flag("--check", args->check, "Write nothing; list the files that would change and exit 1 if any");
    return [args]() {
        if (args->files.empty()) args->files.push_back("-");
        std::vector<std::string> files;
        if (!expand_arguments(args->files, files)) return 1;
        compiler::RenderOptions render{use_color_on_stderr()};
        int status = 0;
        for (const std::string& file : files) status = std::max(status, format_one(file, args->check, render));
        return status;
    };
}

}  // namespace amlflow::cli
