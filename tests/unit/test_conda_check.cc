// The YAML outline (compiler/yaml_outline.h), the package table (python_support.h) and the conda
// checks (conda_check.h) on their own: shapes, places, and what is and is not warned about.
#include <boost/test/unit_test.hpp>

#include "compiler/conda_check.h"
#include "compiler/python_support.h"
#include "compiler/yaml_outline.h"
#include "runtime/azureml/environment_asset.h"

using namespace amlflow::compiler;

namespace {

std::string written(std::string_view text, const YamlNode& node) { return std::string(text.substr(node.begin, node.end - node.begin)); }

std::vector<std::string> warnings(const std::string& yaml) {
    SourceFile file("env.yml", yaml);
    Diagnostics diagnostics;
    CondaRequirements requirements = read_conda_file(file, "torch", diagnostics);
    check_conda_requirements(requirements, diagnostics);
    std::vector<std::string> out;
    for (const Diagnostic& d : diagnostics.sorted()) {
        LineColumn at = d.range.start();
        out.push_back(std::to_string(at.line) + ":" + std::to_string(at.column) + " " + d.message);
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conda_check)

BOOST_AUTO_TEST_CASE(the_outline_of_a_conda_file_with_places) {
    std::string text =
        "# env\nname: 'birds'   # a comment\nchannels: [conda-forge, \"defaults\"]\ndependencies:\n- python=3.10\n"
        "- pip:\n  - torch==2.2.2 # pinned\n  - 'a b'\n-   numpy\nvariables:\n  K: v\n";
    YamlOutline outline = read_yaml_outline(text);
    BOOST_REQUIRE_MESSAGE(outline.error.empty(), outline.error);
    BOOST_REQUIRE(outline.root);
    const YamlNode& root = *outline.root;
    BOOST_TEST(root.entries.size() == 4u);
    BOOST_TEST(root.find("name")->text == "birds");
    const YamlNode* channels = root.find("channels");
    BOOST_REQUIRE(channels->kind == YamlNode::Kind::Sequence);
    BOOST_TEST(channels->items.size() == 2u);
    BOOST_TEST(channels->items[1].text == "defaults");
    const YamlNode* deps = root.find("dependencies");
    BOOST_REQUIRE(deps->kind == YamlNode::Kind::Sequence);  // a list at the key's own indentation
    BOOST_REQUIRE(deps->items.size() == 3u);
    BOOST_TEST(written(text, deps->items[0]) == "python=3.10");
    const YamlNode& pip = deps->items[1];
    BOOST_REQUIRE(pip.kind == YamlNode::Kind::Mapping);
    const YamlNode* pips = pip.find("pip");
    BOOST_REQUIRE(pips && pips->kind == YamlNode::Kind::Sequence);
    BOOST_TEST(written(text, pips->items[0]) == "torch==2.2.2");  // the comment left out
    BOOST_TEST(pips->items[1].text == "a b");
    BOOST_TEST(deps->items[2].text == "numpy");
    BOOST_TEST(root.find("variables")->find("K")->text == "v");
}

BOOST_AUTO_TEST_CASE(what_the_outline_cannot_read_has_a_place_or_is_left_alone) {
    YamlOutline tab = read_yaml_outline("name: a\ndependencies:\n\t- python\n");
    BOOST_TEST(tab.error.find("tab") != std::string::npos, tab.error);
    BOOST_TEST(tab.error_at == 22u);
    YamlOutline no_key = read_yaml_outline("name: a\njust words\n");
    BOOST_TEST(no_key.error.find("key: value") != std::string::npos, no_key.error);
    // Anchors, block scalars, flow mappings: opaque, not errors.
    YamlOutline opaque = read_yaml_outline("a: &x 1\nb: |\n  text\nc: {k: v}\n");
    BOOST_REQUIRE_MESSAGE(opaque.error.empty(), opaque.error);
    BOOST_TEST((opaque.root->find("a")->kind == YamlNode::Kind::Opaque));
    BOOST_TEST((opaque.root->find("b")->kind == YamlNode::Kind::Opaque));
    BOOST_TEST((opaque.root->find("c")->kind == YamlNode::Kind::Opaque));
    BOOST_TEST(!read_yaml_outline("# nothing\n\n").root);
    // Only the first document is read.
    YamlOutline two = read_yaml_outline("---\na: 1\n---\nb: 2\n");
    BOOST_TEST(two.root->entries.size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_table_of_packages) {
    const PythonSupport& support = python_support();
    BOOST_TEST(support.default_python == "3.10");
    std::string name;
    const auto* torch = support.find("PyTorch", &name);  // a conda name, any case
    BOOST_REQUIRE(torch);
    BOOST_TEST(name == "torch");
    for (const char* package : {"torch", "torchvision", "tensorflow", "numpy", "pandas", "scikit-learn", "horovod", "mpi4py"}) {
        BOOST_TEST(support.find(package) != nullptr, package);
    }
    BOOST_TEST(support.find("scikit_learn") != nullptr);
    BOOST_TEST(support.find("left-pad") == nullptr);
    BOOST_TEST((version_numbers("1.13.1+cu117") == std::vector<int>{1, 13, 1}));
    BOOST_TEST((version_numbers("3.12.*") == std::vector<int>{3, 12}));
    BOOST_TEST((version_numbers("2.0.0rc1") == std::vector<int>{2, 0, 0}));
    BOOST_TEST(version_numbers("latest").empty());
}

BOOST_AUTO_TEST_CASE(warnings_where_the_yaml_cannot_resolve) {
    // python= above what the pin supports, in conda's and pip's syntax.
    auto found = warnings("dependencies:\n  - python=3.12\n  - pytorch=1.13\n  - pip:\n    - torch==1.13.1\n");
    BOOST_REQUIRE_EQUAL(found.size(), 2u);
    BOOST_TEST(found[0] == "3:5 'pytorch=1.13' cannot be installed with python 3.12");
    BOOST_TEST(found[1] == "5:7 'torch==1.13.1' cannot be installed with python 3.12");
    // Ranges of python are compared as ranges.
    BOOST_TEST(warnings("dependencies:\n  - python>=3.12\n  - numpy=1.21\n").size() == 1u);
    BOOST_TEST(warnings("dependencies:\n  - python>=3.8,<3.11\n  - numpy==1.21.6\n").empty());
    BOOST_TEST(warnings("dependencies:\n  - python<3.8\n  - numpy=1.26\n").size() == 1u);
    // Pins that do not exist.
    found = warnings("dependencies:\n  - numpy=1.26.9\n  - pip:\n    - torch==1.14.0\n    - torch==9.0\n");
    BOOST_REQUIRE_EQUAL(found.size(), 2u);  // 9.0 is past what the table knows: not judged
    BOOST_TEST(found[0] == "2:5 there is no numpy release 1.26.9");
    BOOST_TEST(found[1] == "4:7 there is no torch release 1.14.0");
    // Not a conda environment.
    BOOST_TEST(warnings("- python\n").size() == 1u);
    BOOST_TEST(warnings("name: x\n").size() == 1u);
    BOOST_TEST(warnings("dependencies:\n  - pip: torch\n").front() == "2:10 'pip' must be a list of requirements");
    BOOST_TEST(warnings("dependencies:\n  - pip:\n").front() == "2:5 'pip' must be a list of requirements");
    BOOST_TEST(warnings("dependencis:\n  - numpy\n").front() == "1:1 unknown key 'dependencis' in a conda environment");
    // Clean: unknown packages, URLs, markers, ranges, alternatives are not judged.
    BOOST_TEST(warnings("name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - numpy>=1.20|1.19\n"
                        "  - pip:\n    - git+https://github.com/x/y\n    - left-pad==1.0\n"
                        "    - torch==2.0.1 ; python_version < '3.12'\n    - pandas[excel]==2.0.3\n")
                   .empty());
}

// The YAML the Azure ML backend builds from inline lists reads back as a conda environment
// with the same python, and its default python is the table's.
BOOST_AUTO_TEST_CASE(the_yaml_amlflow_builds_is_one_the_check_reads) {
    namespace az = amlflow::runtime::azureml;
    BOOST_TEST(python_support().default_python == az::kDefaultPythonVersion);
    nlohmann::json fields = {{"python_version", "3.12"}, {"conda_packages", {"numpy=1.26"}},
                             {"pip", {"torch==1.13.1", "pandas[excel]==2.1.4"}}, {"channels", {"defaults"}}};
    SourceFile file("amlflow.yml", az::conda_yaml(fields));
    Diagnostics diagnostics;
    CondaRequirements requirements = read_conda_file(file, "train", diagnostics);
    BOOST_TEST(diagnostics.all().empty(), file.text());
    BOOST_REQUIRE(requirements.python);
    BOOST_TEST(requirements.python->text == "python=3.12");
    BOOST_REQUIRE_EQUAL(requirements.packages.size(), 4u);  // pip itself, numpy, then the pip list
    check_conda_requirements(requirements, diagnostics);
    BOOST_REQUIRE_EQUAL(diagnostics.all().size(), 1u);
    BOOST_TEST(diagnostics.all()[0].message == "'torch==1.13.1' cannot be installed with python 3.12");
}

BOOST_AUTO_TEST_SUITE_END()
