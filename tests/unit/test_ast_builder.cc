#include <boost/test/unit_test.hpp>

#include "compiler/parse_driver.h"

using namespace amlflow::compiler;

// Kinds print as their numbers in failure messages.
BOOST_TEST_DONT_PRINT_LOG_VALUE(ast::DeclKind)
BOOST_TEST_DONT_PRINT_LOG_VALUE(ast::ExprKind)
BOOST_TEST_DONT_PRINT_LOG_VALUE(ast::StepKind)

namespace {

struct Parsed {
    std::shared_ptr<SourceFile> source;
    Diagnostics diagnostics;
    std::unique_ptr<ast::Module> module;
};

std::unique_ptr<Parsed> parse(const std::string& text) {
    auto parsed = std::make_unique<Parsed>();
    parsed->source = std::make_shared<SourceFile>("t.amlflow", text);
    parsed->module = parse_module(parsed->source, parsed->diagnostics);
    return parsed;
}

std::string at(const SourceRange& range) {
    LineColumn start = range.start();
    return std::to_string(start.line) + ":" + std::to_string(start.column) + " '" + std::string(range.text()) + "'";
}

const ast::Member& member(const ast::Block& block, const std::string& key) {
    for (const ast::Member& m : block.members) {
        if (m.key.name == key) return m;
    }
    BOOST_FAIL("no member " + key);
    return block.members.front();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ast_builder)

BOOST_AUTO_TEST_CASE(declarations_get_kinds_names_and_ranges) {
    auto p = parse("import \"std/curated\"\nparam epochs: int = 3\nlet x = 1\n"
                   "compute here : local { gpus = all }\nexperiment e {\n  job train { script = \"t.py\" }\n}\n");
    BOOST_TEST(!p->diagnostics.has_errors());
    const auto& decls = p->module->decls;
    BOOST_TEST_REQUIRE(decls.size() == 5u);
    BOOST_TEST(decls[0].kind == ast::DeclKind::Import);
    BOOST_TEST(decls[0].import_path == "std/curated");
    BOOST_TEST(decls[0].name.name == "curated");  // alias derived from the path
    BOOST_TEST(at(decls[1].name.range) == "2:7 'epochs'");
    BOOST_TEST(decls[1].type.name.name == "int");
    BOOST_TEST(at(decls[3].compute_kind.range) == "4:16 'local'");
    BOOST_TEST_REQUIRE(decls[4].steps.size() == 1u);
    const ast::Step& job = decls[4].steps[0];
    BOOST_TEST(at(job.name.range) == "6:7 'train'");
    BOOST_TEST(at(member(*job.block, "script").value->range) == "6:24 '\"t.py\"'");
}

BOOST_AUTO_TEST_CASE(literals_carry_units_scaled) {
    auto p = parse("let a = 1.5h\nlet b = 16GB\nlet c = 2KiB\nlet d = 250ms\nlet e = 1e-4\nlet f = true\n");
    BOOST_TEST_REQUIRE(p->module->decls.size() == 6u);
    BOOST_TEST(p->module->decls[0].value->int_value == 5400000);
    BOOST_TEST(p->module->decls[1].value->int_value == 16000000000LL);
    BOOST_TEST(p->module->decls[2].value->int_value == 2048);
    BOOST_TEST(p->module->decls[3].value->int_value == 250);
    BOOST_TEST(p->module->decls[4].value->float_value == 1e-4);
    BOOST_TEST(p->module->decls[5].value->bool_value);
}

BOOST_AUTO_TEST_CASE(string_interpolation_is_split_into_parts_with_ranges) {
    auto p = parse("let s = \"lr=${a.b} \\${x} end\"\n");
    BOOST_TEST(!p->diagnostics.has_errors());
    const ast::Expr& s = *p->module->decls[0].value;
    BOOST_TEST_REQUIRE(s.parts.size() == 3u);
    BOOST_TEST(s.parts[0].text == "lr=");
    BOOST_TEST_REQUIRE(static_cast<bool>(s.parts[1].expr));
    BOOST_TEST(s.parts[1].expr->kind == ast::ExprKind::Member);
    BOOST_TEST(at(s.parts[1].expr->range) == "1:15 'a.b'");
    BOOST_TEST(s.parts[2].text == " ${x} end");
}

BOOST_AUTO_TEST_CASE(columns_count_characters_after_non_ascii_text) {
    auto p = parse("// żółw 🐢\nlet s = \"é\" + x\n");
    BOOST_TEST(!p->diagnostics.has_errors());
    const ast::Expr& sum = *p->module->decls[0].value;
    BOOST_TEST(at(sum.rhs->range) == "2:15 'x'");
}

BOOST_AUTO_TEST_CASE(templates_bindings_and_sweeps) {
    auto p = parse("experiment e {\n job t(lr: float = 0.1, n: int) { script = \"a.py\" }\n"
                   " job s = t(0.5, n = 2)\n sweep w over t { trials = 2 }\n}\n");
    BOOST_TEST(!p->diagnostics.has_errors());
    const auto& steps = p->module->decls[0].steps;
    BOOST_TEST_REQUIRE(steps.size() == 3u);
    BOOST_TEST(steps[0].is_template);
    BOOST_TEST(steps[0].params.size() == 2u);
    BOOST_TEST(!steps[0].params[1].default_value);
    BOOST_TEST(steps[1].target->name == "t");
    BOOST_TEST_REQUIRE(steps[1].bind_args.size() == 2u);
    BOOST_TEST(!steps[1].bind_args[0].name.has_value());
    BOOST_TEST(steps[1].bind_args[1].name->name == "n");
    BOOST_TEST(steps[2].kind == ast::StepKind::Sweep);
    BOOST_TEST(steps[2].target->name == "t");
}

BOOST_AUTO_TEST_CASE(keywords_are_usable_as_field_names) {
    auto p = parse("experiment e { export onnx x { model = a, environment = b } }\n");
    BOOST_TEST(!p->diagnostics.has_errors());
    const ast::Block& block = *p->module->decls[0].steps[0].block;
    BOOST_TEST(block.members.size() == 2u);
    BOOST_TEST(block.members[0].key.name == "model");
}

BOOST_AUTO_TEST_CASE(a_broken_member_is_dropped_and_its_block_marked_incomplete) {
    auto p = parse("experiment e {\n  job t {\n    script \"a.py\"\n    args = [1]\n  }\n}\n");
    BOOST_TEST(p->diagnostics.error_count() == 1u);
    const ast::Step& job = p->module->decls[0].steps[0];
    BOOST_TEST(job.block->incomplete);
    BOOST_TEST(job.block->members.size() == 1u);
    BOOST_TEST(job.block->members[0].key.name == "args");
}

BOOST_AUTO_TEST_CASE(syntax_errors_never_leak_antlr_wording) {
    for (const char* text : {"param x int", "experiment { }", "let = 3", "compute a : local { x = }",
                             "experiment e { job { } }", "let x = [1, 2", "let x = (1", "@"}) {
        auto p = parse(text);
        BOOST_TEST_CONTEXT(text) {
            BOOST_TEST(p->diagnostics.has_errors());
            for (const Diagnostic& d : p->diagnostics.all()) {
                BOOST_TEST(d.message.find("mismatched") == std::string::npos);
                BOOST_TEST(d.message.find("expecting") == std::string::npos);
                BOOST_TEST(d.message.find("viable") == std::string::npos);
                BOOST_TEST(d.message.find("extraneous") == std::string::npos);
                BOOST_TEST(d.range.valid());
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
