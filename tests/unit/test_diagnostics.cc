#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "compiler/diagnostics.h"

using namespace amlflow::compiler;

BOOST_AUTO_TEST_SUITE(diagnostics)

BOOST_AUTO_TEST_CASE(text_has_location_line_caret_and_notes) {
    SourceFile file("a.amlflow", "let x = 1\nlet y = zz\n");
    Diagnostics diagnostics;
    diagnostics.error("unknown-name", {&file, 18, 20}, "unknown name 'zz'").help("did you mean 'x'?");
    std::string text = render_text(diagnostics, RenderOptions{false});
    BOOST_TEST(text ==
               "a.amlflow:2:9: error: unknown name 'zz'\n"
               " 2 | let y = zz\n"
               "   |         ^~\n"
               "help: did you mean 'x'?\n");
}

BOOST_AUTO_TEST_CASE(colour_only_when_asked) {
    SourceFile file("a.amlflow", "x\n");
    Diagnostics diagnostics;
    diagnostics.error("syntax", {&file, 0, 1}, "bad");
    BOOST_TEST(render_text(diagnostics, RenderOptions{false}).find('\x1b') == std::string::npos);
    BOOST_TEST(render_text(diagnostics, RenderOptions{true}).find("\x1b[1;31m") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sorted_by_place_and_repeats_dropped) {
    SourceFile file("a.amlflow", "one\ntwo\n");
    Diagnostics diagnostics;
    diagnostics.error("x", {&file, 4, 7}, "second");
    diagnostics.error("x", {&file, 0, 3}, "first");
    diagnostics.error("x", {&file, 0, 3}, "first").note("dropped");
    BOOST_TEST(diagnostics.error_count() == 2u);
    auto sorted = diagnostics.sorted();
    BOOST_TEST(sorted[0].message == "first");
    BOOST_TEST(sorted[0].notes.empty());
}

BOOST_AUTO_TEST_CASE(json_carries_code_and_range) {
    SourceFile file("a.amlflow", "let y = zz\n");
    Diagnostics diagnostics;
    diagnostics.warning("unset-env", {&file, 8, 10}, "careful");
    auto json = nlohmann::json::parse(render_json(diagnostics));
    BOOST_TEST(json[0]["severity"] == "warning");
    BOOST_TEST(json[0]["code"] == "unset-env");
    BOOST_TEST(json[0]["range"]["start"]["column"] == 9);
    BOOST_TEST(json[0]["range"]["end"]["column"] == 11);
}

BOOST_AUTO_TEST_CASE(a_range_at_the_end_of_the_file_still_renders) {
    SourceFile file("a.amlflow", "experiment e {");
    Diagnostics diagnostics;
    diagnostics.error("syntax", {&file, 14, 14}, "expected '}'");
    std::string text = render_text(diagnostics, RenderOptions{false});
    BOOST_TEST(text.find("a.amlflow:1:15:") == 0u);
    BOOST_TEST(text.find("^") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
