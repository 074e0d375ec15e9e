// Parsing a file one declaration and one step at a time (compiler/parse_chunks.cc) must
// give the AST and the diagnostics that parsing it whole gives: every node, range and
// literal, on every file of the golden corpus and the examples, and on texts made to
// trip the cuts between pieces.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/ast_pack.h"
#include "compiler/parse_chunks.h"
#include "compiler/parse_driver.h"

namespace fs = std::filesystem;
using namespace amlflow::compiler;

namespace {

// Everything the AST holds, one node a line.
class Dump {
public:
    std::string module(const ast::Module& m) {
        for (const ast::Decl& d : m.decls) decl(d);
        return out_.str();
    }

private:
    void range(const SourceRange& r) { out_ << '@' << r.begin << '-' << r.end << (r.valid() ? "" : "!"); }
    void ident(const ast::Identifier& id) {
        out_ << " '" << id.name << "'";
        range(id.range);
    }
    void line(int depth, const std::string& what) { out_ << '\n' << std::string(depth * 2, ' ') << what; }

    void decl(const ast::Decl& d) {
        line(0, "decl " + std::to_string(static_cast<int>(d.kind)));
        ident(d.name);
        range(d.range);
        range(d.keyword_range);
        out_ << " import='" << d.import_path << "'" << d.explicit_alias << d.has_type << d.broken;
        range(d.import_path_range);
        if (d.has_type) type(1, d.type);
        for (const ast::Identifier& base : d.base) ident(base);
        ident(d.compute_kind);
        if (d.value) expr(1, *d.value);
        if (d.block) block(1, *d.block);
        for (const ast::Step& s : d.steps) step(1, s);
    }
    void step(int depth, const ast::Step& s) {
        line(depth, "step " + std::to_string(static_cast<int>(s.kind)) + (s.is_template ? " template" : ""));
        ident(s.name);
        range(s.range);
        range(s.keyword_range);
        if (s.target) ident(*s.target);
        for (const ast::JobParam& p : s.params) {
            line(depth + 1, "param");
            ident(p.name);
            range(p.range);
            type(depth + 2, p.type);
            if (p.default_value) expr(depth + 2, *p.default_value);
        }
        for (const ast::Arg& a : s.bind_args) arg(depth + 1, a);
        if (s.block) block(depth + 1, *s.block);
    }
    void type(int depth, const ast::TypeRef& t) {
        line(depth, "type");
        ident(t.name);
        range(t.range);
        if (t.element) type(depth + 1, *t.element);
    }
    void block(int depth, const ast::Block& b) {
        line(depth, std::string("block") + (b.incomplete ? " incomplete" : ""));
        range(b.range);
        for (const ast::Member& m : b.members) {
            line(depth + 1, "member");
            ident(m.key);
            range(m.range);
            if (m.value) expr(depth + 2, *m.value);
            if (m.block) block(depth + 2, *m.block);
        }
    }
    void arg(int depth, const ast::Arg& a) {
        line(depth, "arg");
        if (a.name) ident(*a.name);
        range(a.range);
        if (a.value) expr(depth + 1, *a.value);
    }
    void expr(int depth, const ast::Expr& e) {
        line(depth, "expr " + std::to_string(static_cast<int>(e.kind)));
        range(e.range);
        out_ << ' ' << e.int_value << ' ' << e.float_value << ' ' << e.bool_value << " op=" << int(e.op);
        ident(e.name);
        for (const ast::StringPart& p : e.parts) {
            line(depth + 1, "part '" + p.text + "'");
            range(p.range);
            if (p.expr) expr(depth + 2, *p.expr);
        }
        if (e.object) expr(depth + 1, *e.object);
        if (e.rhs) expr(depth + 1, *e.rhs);
        for (const ast::Arg& a : e.args) arg(depth + 1, a);
        for (const ast::ExprPtr& item : e.items) expr(depth + 1, *item);
        if (e.block) block(depth + 1, *e.block);
    }

    std::ostringstream out_;
};

struct Outcome {
    std::string ast;
    std::string diagnostics;
};

Outcome parse(const std::string& text, bool whole) {
    auto source = std::make_shared<SourceFile>("t.amlflow", text);
    Diagnostics diagnostics;
    auto module = whole ? parse_module_whole(source, diagnostics) : parse_module(source, diagnostics);
    return {Dump().module(*module), render_text(diagnostics, RenderOptions{})};
}

// Whether the text parses in pieces at all (else parse_module parses it whole).
bool parses_in_pieces(const std::string& text, int workers = kWorkersAsFitting) {
    SourceFile file("t.amlflow", text);
    return parse_in_chunks(file, text, workers).has_value();
}

// The AST of the text parsed in pieces by `workers` threads besides this one.
std::string pieces_ast(const std::string& text, int workers) {
    auto source = std::make_shared<SourceFile>("t.amlflow", text);
    auto decls = parse_in_chunks(*source, text, workers);
    BOOST_TEST_REQUIRE(decls.has_value());
    ast::Module module;
    module.source = source;
    module.decls = std::move(*decls);
    return Dump().module(module);
}

// The same parse with every step packed (ast_pack.h), then each unpacked: it must be the
// very tree. `packed`: how many steps came back packed.
std::string packed_then_unpacked_ast(const std::string& text, int workers, size_t* packed) {
    auto source = std::make_shared<SourceFile>("t.amlflow", text);
    auto decls = parse_in_chunks(*source, text, workers, true);
    BOOST_TEST_REQUIRE(decls.has_value());
    *packed = 0;
    for (ast::Decl& decl : *decls) {
        for (ast::Step& step : decl.steps) {
            if (step.packed.empty()) continue;
            ++*packed;
            BOOST_TEST((step.block == nullptr));
            BOOST_TEST(step.bind_args.empty());
            ast::unpack_step_body(step, *source);
            BOOST_TEST(step.packed.empty());
        }
    }
    ast::Module module;
    module.source = source;
    module.decls = std::move(*decls);
    return Dump().module(module);
}

// A file of `steps` varied steps in experiments of 100, with comments, strings with
// interpolations and non-ASCII text, bindings and sweeps: large enough to be parsed on
// several threads.
std::string large_file(int steps) {
    std::string text = "param lr: float = 0.1\nenvironment env { python = \"3.11\" }\n";
    for (int i = 0; i < steps; ++i) {
        std::string n = std::to_string(i);
        if (i % 100 == 0) text += (i ? "}\n" : "") + std::string("experiment e") + n + " { // caf\xC3\xA9\n";
        if (i % 10 == 3) {
            text += "  sweep s" + n + " over t" + std::to_string(i - 3) + " { space { lr = choice(0.1, 0.2) } }\n";
        } else if (i % 10 == 0) {
            text += "  job t" + n + "(lr: float = 0.1) { script = \"train.py\", args = [\"--lr\", \"${lr}\"] }\n";
        } else {
            text += "  /* step " + n + " */ job j" + n + " { script = \"s.py\", args = [\"\xE2\x80\x94 ${lr * 2}\", " + n +
                    " + 1, -" + n + "], inputs = { data = \"x\" }, timeout = 10m, shm = 2GB }\n";
        }
    }
    return text + "}\n";
}

void expect_same(const std::string& text, const std::string& name) {
    Outcome pieces = parse(text, false), whole = parse(text, true);
    BOOST_TEST(pieces.ast == whole.ast, name << ": the ASTs differ");
    BOOST_TEST(pieces.diagnostics == whole.diagnostics, name << ": the diagnostics differ");
}

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parse_chunks)

BOOST_AUTO_TEST_CASE(every_golden_and_example_file_parses_the_same_in_pieces) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator("tests/golden")) {
        if (entry.path().extension() == ".amlflow") files.push_back(entry.path());
    }
    for (const auto& dir : fs::directory_iterator("examples")) {
        if (!dir.is_directory()) continue;
        for (const auto& entry : fs::directory_iterator(dir.path())) {
            if (entry.path().extension() == ".amlflow") files.push_back(entry.path());
        }
    }
    BOOST_TEST_REQUIRE(files.size() > 100u);
    size_t in_pieces = 0;
    for (const fs::path& file : files) {
        std::string text = read(file);
        expect_same(text, file.string());
        if (parses_in_pieces(text)) ++in_pieces;
    }
    // Every valid file takes the fast road (most of the corpus is valid syntax).
    BOOST_TEST(in_pieces > files.size() / 2);
    BOOST_TEST(parses_in_pieces(read("examples/birds/birds.amlflow")));
}

BOOST_AUTO_TEST_CASE(cuts_between_pieces_keep_the_ast) {
    const char* texts[] = {
        // keywords used as names where a declaration or a step could start
        "let param = 1\nlet let = param\nlet x = let\nparam experiment: int = x\n"
        "import \"std/curated\" as job\nexperiment experiment {\n  job job { environment = job.x, model = 1 }\n"
        "  sweep sweep over job { space { lr = choice(1) } }\n}\n",
        // a binding with and without a block, steps back to back, comments everywhere
        "experiment e { // c\n job t(lr: float = 0.1) { script = \"a.py\" } /* b */ job a = t(lr = 1)"
        "job b = t(lr = 2) { restarts = 1 }\n// between\ndownload d { path = a.outputs }}\n"
        "experiment f {}\nexperiment g { register model m { path = \"x\" } }",
        // expressions spread over lines, a declaration keyword after an operator
        "let a = 1 +\n2\nlet b = [1,\n2]\nlet c = -\n3\nenvironment e from\ncurated.x { }\n"
        "compute c :\nlocal { }\nworkspace w { }\n",
        // strings: interpolation, an unterminated one, a unit that is none, a big int
        "let a = \"x ${1 + 2} y\"\nlet b = 10min\nlet c = 99999999999999999999\nlet d = \"open\n"
        "experiment e { job j { script = \"${a}\" } }\n",
        // non-ASCII text in a string and a comment; a byte order mark
        "let a = \"h\xC3\xA9llo \xE2\x80\x94 \xF0\x9F\x98\x80\" // caf\xC3\xA9\nlet b = a\n",
        "\xEF\xBB\xBFlet a = \"\xC3\xA9\" + 1\nlet b = a\n",
        // syntax errors: the whole-file parse words them
        "experiment e {\n  job a { script = }\n  job b { x = 1 }\n}\n",
        "experiment e {\n  job a { }\n",
        "let a = 1 }\nlet b = 2\n",
        "experiment e { x = 1 }\n",
        "experiment { job a { } }\n",
        "let a = ((((1))))\n",
        "",
        "// only a comment\n",
    };
    for (const char* text : texts) expect_same(text, text);
    BOOST_TEST(parses_in_pieces(texts[0]));
    BOOST_TEST(parses_in_pieces(texts[1]));
    BOOST_TEST(parses_in_pieces(texts[4]));
    BOOST_TEST(!parses_in_pieces(texts[6]));
}

BOOST_AUTO_TEST_CASE(text_nested_too_deeply_is_reported_as_before) {
    std::string deep = "experiment e { job a { args = [" + std::string(300, '[') + std::string(300, ']') + "] } }\n";
    BOOST_TEST(!parses_in_pieces(deep));
    expect_same(deep, "300 brackets");
    std::string minus = "let a = " + std::string(300, '-') + "1\n";
    expect_same(minus, "300 minus signs");
    // a deep expression the builder refuses, in two steps: reported once, as before
    std::string sum = "let a = 1";
    for (int i = 0; i < 600; ++i) sum += " + 1";
    std::string file = sum + "\n" + sum + "\nexperiment e { job j { x = 1 } }\n";
    BOOST_TEST(!parses_in_pieces(file));  // what the AST builder reports sends it to the whole-file parse
    expect_same(file, "two deep sums");
}

BOOST_AUTO_TEST_CASE(a_large_file_parses_the_same_on_several_threads) {
    std::string text = large_file(3000);
    BOOST_TEST_REQUIRE(text.size() > 300u * 1024u);  // over the threaded size (piece_parsers.cc)
    std::string alone = pieces_ast(text, 0);
    BOOST_TEST(pieces_ast(text, 1) == alone);
    BOOST_TEST(pieces_ast(text, 3) == alone);
    expect_same(text, "large file");
}

BOOST_AUTO_TEST_CASE(packed_steps_unpack_to_the_very_tree) {
    // Every literal and range of the corpus and the examples, and a large file on threads
    // (strings with interpolations and non-ASCII text, bindings, sweeps, negative numbers).
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator("tests/golden")) {
        if (entry.path().extension() == ".amlflow") files.push_back(entry.path());
    }
    for (const auto& entry : fs::recursive_directory_iterator("examples")) {
        if (entry.path().extension() == ".amlflow") files.push_back(entry.path());
    }
    BOOST_TEST_REQUIRE(files.size() > 100u);
    size_t packed_in_all = 0;
    for (const fs::path& file : files) {
        std::string text = read(file);
        if (!parses_in_pieces(text, 0)) continue;
        size_t packed = 0;
        BOOST_TEST(packed_then_unpacked_ast(text, 0, &packed) == pieces_ast(text, 0), file.string());
        packed_in_all += packed;
    }
    BOOST_TEST(packed_in_all > 200u);
    std::string large = large_file(3000);
    size_t packed = 0;
    BOOST_TEST(packed_then_unpacked_ast(large, 3, &packed) == pieces_ast(large, 0));
    BOOST_TEST(packed == 3000u - 300u);  // every step but the templates (one in ten)
}

BOOST_AUTO_TEST_CASE(a_range_into_another_file_is_never_packed) {
    auto source = std::make_shared<SourceFile>("t.amlflow", "experiment e { job j { script = \"t.py\" } }\n");
    auto decls = parse_in_chunks(*source, source->text(), 0);
    BOOST_TEST_REQUIRE(decls.has_value());
    ast::Step& step = (*decls)[0].steps[0];
    SourceFile other("other.amlflow", "x");
    step.block->members[0].key.range.file = &other;
    BOOST_TEST(!ast::pack_step_body(step, *source));
    BOOST_TEST(step.packed.empty());
    BOOST_TEST_REQUIRE((step.block != nullptr));  // left as it was
    BOOST_TEST(step.block->members[0].key.name == "script");
}

BOOST_AUTO_TEST_CASE(a_large_file_with_a_problem_late_in_it_is_worded_as_before) {
    std::string text = large_file(3000);
    size_t late = text.rfind("job j2");
    std::string syntax = text;
    syntax.insert(syntax.find('}', late), ", = 1");
    std::string unterminated = text;
    unterminated.insert(unterminated.find('}', late), ", x = \"open\n");
    for (const std::string& bad : {syntax, unterminated}) {
        BOOST_TEST(!parses_in_pieces(bad, 0));
        BOOST_TEST(!parses_in_pieces(bad, 2));
        expect_same(bad, "a problem late in a large file");
        BOOST_TEST(!parse(bad, false).diagnostics.empty());
    }
}

BOOST_AUTO_TEST_SUITE_END()
