// Shared by the unit tests: a temporary project folder with files in it, and a compile
// of a text as if it were a file there.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "compiler/compile.h"

namespace amlflow::testing {

class TempProject {
public:
    TempProject() {
        std::random_device random;
        root_ = std::filesystem::temp_directory_path() / ("amlflow-test-" + std::to_string(random()) + std::to_string(random()));
        std::filesystem::create_directories(root_);
    }
    ~TempProject() {
        std::error_code ignored;
        std::filesystem::remove_all(root_, ignored);
    }
    TempProject(const TempProject&) = delete;
    TempProject& operator=(const TempProject&) = delete;

    const std::filesystem::path& root() const { return root_; }

    std::filesystem::path write(const std::string& relative, const std::string& text) const {
        std::filesystem::path path = root_ / relative;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }

    // `compute`: as `--compute` gives it.
    std::unique_ptr<compiler::CompileResult> compile(const std::string& text,
                                                     std::vector<std::string> sets = {},
                                                     const std::string& compute = "") const {
        std::filesystem::path path = write("main.amlflow", text);
        compiler::CompileOptions options;
        options.sets = std::move(sets);
        options.compute = compute;
        return compiler::compile_file(path.string(), options);
    }

private:
    std::filesystem::path root_;
};

inline std::string messages(const compiler::Diagnostics& diagnostics) {
    std::string out;
    for (const auto& d : diagnostics.sorted()) out += d.code + ": " + d.message + "\n";
    return out;
}

inline bool has_message(const compiler::Diagnostics& diagnostics, const std::string& text) {
    for (const auto& d : diagnostics.all()) {
        if (d.message.find(text) != std::string::npos) return true;
        for (const auto& n : d.notes) {
            if (n.message.find(text) != std::string::npos) return true;
        }
    }
    return false;
}

// The node of the plan with this id, or nullptr.
inline const compiler::PlanNode* node(const compiler::Plan& plan, const std::string& id) {
    for (const auto& n : plan.nodes) {
        if (n.id == id) return &n;
    }
    return nullptr;
}

}  // namespace amlflow::testing
