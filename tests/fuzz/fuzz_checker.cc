// libFuzzer target: the bytes are the text of a main .amlflow file. Runs the whole
// front end (load, parse, check), renders the diagnostics as text (plain and colored)
// and as JSON, and, when the file is clean, builds the plan and renders it in every
// format. Anything that crashes, leaks, hangs, trips ASan/UBSan or throws is a finding.
//
// Relative paths in the input (`file("...")`, imports, source folders) resolve against
// the current directory: run it from an empty scratch folder (tests/fuzz/run_fuzz.sh
// does).
//
// Besides "does not crash", it checks three cheap properties:
//   - render_json's output is valid JSON (nlohmann::json::accept);
//   - a plan is produced exactly when there are no errors, and it serializes;
//   - `amlflow fmt` (format_source) is idempotent: formatting its own output again
//     changes nothing.
//
// Directives: lines at the very start of the input of the form
//   //@set NAME=VALUE     passed as a `--set` value (CompileOptions::sets)
//   //@env VALUE          the value of the environment variable AMLFLOW_FUZZ_ENV, which
//                         the input can read with env("AMLFLOW_FUZZ_ENV")
// are taken out of the main file's text (each leaves an empty line, so line numbers
// stay those of the input; their bytes may be anything, even invalid UTF-8, without
// making the main file invalid). They let the fuzzer reach the `--set` parser and values
// from the environment too. Without an //@env line the variable is unset.
//
// AMLFLOW_FUZZ_UTF8_ONLY=1 in the environment rejects inputs whose main text is not
// valid UTF-8 (the loader stops at the first malformed byte anyway, so little else is
// lost): a way to keep fuzzing the rest of the compiler while a bug in that path is
// open. Off by default, so that such bugs are found.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "compiler/compile.h"
#include "compiler/diagnostics.h"
#include "compiler/formatter.h"
#include "compiler/plan.h"
#include "compiler/utf8.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_checker: %s\n%s\n", what, detail.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace amlflow::compiler;
    static const bool utf8_only = [] {
        const char* flag = std::getenv("AMLFLOW_FUZZ_UTF8_ONLY");
        return flag != nullptr && std::string(flag) == "1";
    }();
    CompileOptions options;
    std::string source(reinterpret_cast<const char*>(data), size);
    bool env_set = false;
    size_t at = 0;
    while (at < source.size()) {
        size_t end = source.find('\n', at);
        if (end == std::string::npos) end = source.size();
        std::string_view line(source.data() + at, end - at);
        if (line.substr(0, 7) == "//@set ") {
            options.sets.emplace_back(line.substr(7));
        } else if (line.substr(0, 7) == "//@env ") {
            ::setenv("AMLFLOW_FUZZ_ENV", std::string(line.substr(7)).c_str(), 1);
            env_set = true;
        } else {
            break;
        }
        // The directive leaves an empty line, so line numbers stay those of the input.
        source.replace(at, end - at, "");
        at = at + 1;
    }
    if (utf8_only && find_invalid_utf8(source)) return -1;  // not added to the corpus
    options.main_text = std::move(source);
    if (!env_set) ::unsetenv("AMLFLOW_FUZZ_ENV");
    std::unique_ptr<CompileResult> result = compile_file("fuzz.amlflow", options);
    if (!result) fail("compile_file returned null", "");

    RenderOptions plain;
    RenderOptions colored;
    colored.color = true;
    std::string text = render_text(result->diagnostics, plain);
    std::string text_colored = render_text(result->diagnostics, colored);
    for (const Diagnostic& diagnostic : result->diagnostics.sorted()) {
        text += render_text(diagnostic, plain);
    }
    std::string json_text = render_json(result->diagnostics);
    if (!nlohmann::json::accept(json_text)) fail("render_json produced invalid JSON", json_text);

    if (result->plan) {
        if (result->diagnostics.has_errors()) fail("a plan was produced despite errors", text);
        const Plan& plan = *result->plan;
        std::string plan_json = plan_to_json(plan).dump(2);
        std::string plan_text = plan_to_text(plan);
        std::string plan_dot = plan_to_dot(plan);
        std::string plan_mermaid = plan_to_mermaid(plan);
        // Keep the optimizer from dropping the renderings.
        volatile size_t sink = plan_json.size() + plan_text.size() + plan_dot.size() + plan_mermaid.size();
        (void)sink;
    } else if (!result->diagnostics.has_errors()) {
        fail("no errors but no plan", text);
    }
    // The formatter runs on the same text (it refuses what does not parse).
    FormatResult once = format_source("fuzz.amlflow", *options.main_text);
    if (once.ok) {
        FormatResult twice = format_source("fuzz.amlflow", once.text);
        if (!twice.ok) fail("the formatter's output does not format", once.text);
        if (twice.text != once.text) fail("formatting is not idempotent", once.text + "\n----\n" + twice.text);
    }
    volatile size_t sink = text.size() + text_colored.size() + json_text.size();
    (void)sink;
    return 0;
}
