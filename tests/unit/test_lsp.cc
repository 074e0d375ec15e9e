// `amlflow lsp` end to end: the real server process, spoken to over its stdin and stdout
// as an editor would (tests/unit/lsp_client.h). Opens the examples, asks what an editor
// asks (diagnostics, completion, hover, definition, symbols, formatting), feeds it every
// prefix of every example and garbage, and checks it always answers and never dies.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/unit/lsp_client.h"
#include "tests/unit/test_support.h"

namespace {

namespace fs = std::filesystem;
using amlflow::testing::LspClient;
using nlohmann::json;

fs::path source_dir() { return AMLFLOW_SOURCE_DIR; }

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string uri_of(const fs::path& path) { return "file://" + fs::absolute(path).lexically_normal().string(); }

fs::path birds_path() { return source_dir() / "examples/birds/birds.amlflow"; }

// The LSP position (UTF-16 units) of byte `offset` in `text`.
json position_at(const std::string& text, size_t offset) {
    size_t line = 0, character = 0;
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '\n') {
            ++line;
            character = 0;
        } else if ((c & 0xC0) != 0x80) {
            character += c >= 0xF0 ? 2 : 1;
        }
    }
    return {{"line", line}, {"character", character}};
}

// The position `delta` bytes into the `nth` occurrence of `needle`.
json position_of(const std::string& text, const std::string& needle, size_t delta = 0, int nth = 0) {
    size_t at = text.find(needle);
    for (int i = 0; i < nth && at != std::string::npos; ++i) at = text.find(needle, at + 1);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no '" + needle + "' in the text");
    return position_at(text, at + delta);
}

std::set<std::string> labels(const json& response) {
    std::set<std::string> out;
    for (const json& item : response["result"]["items"]) out.insert(item["label"].get<std::string>());
    return out;
}

json range(int l1, int c1, int l2, int c2) {
    return {{"start", {{"line", l1}, {"character", c1}}}, {"end", {{"line", l2}, {"character", c2}}}};
}

// A started and initialized server, with a cache folder of its own for the stdlib copies.
struct Session {
    amlflow::testing::TempProject cache;
    LspClient client{{"XDG_CACHE_HOME=" + cache.root().string()}};

    Session() {
        json init = client.call("initialize", {{"processId", nullptr}, {"rootUri", nullptr}, {"capabilities", json::object()}});
        BOOST_REQUIRE(init.contains("result"));
        client.notify("initialized", json::object());
    }

    json open(const std::string& uri, const std::string& text) {
        client.notify("textDocument/didOpen",
                      {{"textDocument", {{"uri", uri}, {"languageId", "amlflow"}, {"version", 1}, {"text", text}}}});
        return client.wait_notification("textDocument/publishDiagnostics", uri)["params"]["diagnostics"];
    }
    json change(const std::string& uri, const std::string& text, int version) {
        client.notify("textDocument/didChange", {{"textDocument", {{"uri", uri}, {"version", version}}},
                                                 {"contentChanges", {{{"text", text}}}}});
        return client.wait_notification("textDocument/publishDiagnostics", uri)["params"]["diagnostics"];
    }
    json at(const std::string& method, const std::string& uri, const json& position) {
        return client.call(method, {{"textDocument", {{"uri", uri}}}, {"position", position}});
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(lsp)

BOOST_AUTO_TEST_CASE(initialize_announces_capabilities_and_exit_ends_the_server) {
    LspClient client;
    json early = client.call("textDocument/hover", {{"textDocument", {{"uri", "file:///x.amlflow"}}}, {"position", {{"line", 0}, {"character", 0}}}});
    BOOST_TEST(early["error"]["code"] == -32002);  // not initialized yet
    json init = client.call("initialize", {{"capabilities", json::object()}});
    const json& caps = init["result"]["capabilities"];
    BOOST_TEST(caps["textDocumentSync"]["change"] == 1);
    BOOST_TEST(caps["hoverProvider"] == true);
    BOOST_TEST(caps["definitionProvider"] == true);
    BOOST_TEST(caps["documentSymbolProvider"] == true);
    BOOST_TEST(caps["documentFormattingProvider"] == true);
    BOOST_TEST(caps["completionProvider"]["triggerCharacters"].size() >= 1u);
    BOOST_TEST(init["result"]["serverInfo"]["name"] == "amlflow");
    BOOST_TEST(client.call("shutdown", nullptr)["result"].is_null());
    client.notify("exit", nullptr);
    BOOST_TEST(client.wait_exit().value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(exit_without_shutdown_is_code_1_and_eof_ends_it_too) {
    {
        LspClient client;
        client.call("initialize", {{"capabilities", json::object()}});
        client.notify("exit", nullptr);
        BOOST_TEST(client.wait_exit().value_or(-1) == 1);
    }
    LspClient client;
    client.close_input();
    BOOST_TEST(client.wait_exit().has_value());
}

BOOST_AUTO_TEST_CASE(diagnostics_arrive_with_exact_utf16_ranges_and_go_away_when_fixed) {
    Session s;
    amlflow::testing::TempProject project;
    fs::path file = project.write("broken.amlflow", "");
    std::string uri = uri_of(file);
    // The bird is 4 bytes of UTF-8 and 2 UTF-16 units: `epoch` starts at character 15.
    std::string text = "param epochs: int = 3\nlet y = \"\xF0\x9F\x90\xA6\" + epoch\n";
    json diagnostics = s.open(uri, text);
    BOOST_REQUIRE_EQUAL(diagnostics.size(), 1u);
    const json& d = diagnostics[0];
    BOOST_TEST(d["range"] == range(1, 15, 1, 20));
    BOOST_TEST(d["severity"] == 1);
    BOOST_TEST(d["code"] == "unknown-name");
    BOOST_TEST(d["source"] == "amlflow");
    std::string message = d["message"];
    BOOST_TEST(message.find("'epoch'") != std::string::npos);
    BOOST_TEST(message.find("did you mean 'epochs'?") != std::string::npos);  // the help, appended

    BOOST_TEST(s.change(uri, "param epochs: int = 3\nlet y = epochs\n", 2).empty());
    s.client.notify("textDocument/didClose", {{"textDocument", {{"uri", uri}}}});
    BOOST_TEST(s.client.wait_notification("textDocument/publishDiagnostics", uri)["params"]["diagnostics"].empty());
}

BOOST_AUTO_TEST_CASE(a_broken_copy_of_birds_reports_where_it_is_broken) {
    Session s;
    std::string uri = uri_of(birds_path());
    std::string text = read_file(birds_path());
    BOOST_TEST(s.open(uri, text).empty());  // the example is clean
    std::string broken = text;
    size_t at = broken.find("restarts     = 1");
    broken.replace(at, 16, "restarts     = \"x\"");
    at = broken.find("processes_per_node = 2");
    broken.replace(at, 22, "processes_per_nod = 2");
    json diagnostics = s.change(uri, broken, 2);
    BOOST_REQUIRE_EQUAL(diagnostics.size(), 2u);
    // In source order: the distribution line comes first.
    json field = position_of(broken, "processes_per_nod ");
    BOOST_TEST(diagnostics[0]["range"]["start"] == field);
    BOOST_TEST(diagnostics[0]["range"]["end"]["character"] == field["character"].get<int>() + 17);
    BOOST_TEST(diagnostics[0]["code"] == "unknown-field");
    BOOST_TEST(diagnostics[0]["message"].get<std::string>().find("did you mean 'processes_per_node'?") != std::string::npos);
    json value = position_of(broken, "\"x\"");
    BOOST_TEST(diagnostics[1]["range"]["start"] == value);
    BOOST_TEST(diagnostics[1]["range"]["end"]["character"] == value["character"].get<int>() + 3);
    BOOST_TEST(diagnostics[1]["code"] == "type");
    // A syntax error: the range is the token the parser stopped at.
    json syntax = s.change(uri, "param epochs: int = \n", 3);
    BOOST_REQUIRE(!syntax.empty());
    BOOST_TEST(syntax[0]["code"] == "syntax");
    BOOST_TEST(syntax[0]["range"]["start"]["line"] == 0);
}

BOOST_AUTO_TEST_CASE(completion_in_a_job_block_offers_the_fields_not_yet_written) {
    Session s;
    std::string uri = uri_of(birds_path());
    std::string text = read_file(birds_path());
    s.open(uri, text);
    // The start of the `metrics` line inside `job train`.
    json fields = s.at("textDocument/completion", uri, position_of(text, "    metrics      =", 4));
    std::set<std::string> offered = labels(fields);
    for (const char* wanted : {"command", "variables", "inputs", "after", "tags", "description"}) {
        BOOST_TEST(offered.count(wanted) == 1, "offers " << wanted);
    }
    for (const char* written : {"script", "restarts", "source", "metrics", "retry", "environment", "timeout"}) {
        BOOST_TEST(offered.count(written) == 0, "does not offer " << written);
    }
    BOOST_TEST(offered.count("slack") == 0);  // another block's field

    // A job with only `source` written: `script` and `restarts` are offered, `source` not.
    std::string fresh = text;
    fresh.replace(fresh.find("  download best_model"), 0, "  job extra {\n    source = \".\"\n    \n  }\n");
    s.change(uri, fresh, 2);
    offered = labels(s.at("textDocument/completion", uri, position_of(fresh, "    \n  }", 4)));
    BOOST_TEST(offered.count("script") == 1);
    BOOST_TEST(offered.count("restarts") == 1);
    BOOST_TEST(offered.count("distribution") == 1);
    BOOST_TEST(offered.count("source") == 0);
}

BOOST_AUTO_TEST_CASE(completion_of_values_kinds_and_names_on_half_typed_text) {
    Session s;
    std::string uri = uri_of(birds_path());
    std::string text = read_file(birds_path());
    s.open(uri, text);
    // `distribution = ` and nothing after: the text does not parse; the kinds are offered.
    std::string typing = text;
    size_t at = typing.find("pytorch { nodes = 1, processes_per_node = 2 }");
    typing.erase(at, std::string("pytorch { nodes = 1, processes_per_node = 2 }").size());
    s.change(uri, typing, 2);
    std::set<std::string> kinds = labels(s.at("textDocument/completion", uri, position_at(typing, at)));
    BOOST_TEST((kinds == std::set<std::string>{"none", "pytorch", "per_node", "mpi"}));

    // Inside `pytorch { }`: the distribution's fields.
    std::string inside = text;
    at = inside.find("nodes = 1, ");
    inside.erase(at, std::string("nodes = 1, ").size());
    s.change(uri, inside, 3);
    std::set<std::string> dist = labels(s.at("textDocument/completion", uri, position_at(inside, at)));
    BOOST_TEST(dist.count("nodes") == 1);
    BOOST_TEST(dist.count("processes_per_node") == 0);  // written after the cursor
    BOOST_TEST(dist.count("script") == 0);

    // Declared names where a value goes; environments where an environment goes.
    s.change(uri, text, 4);
    std::set<std::string> names = labels(s.at("textDocument/completion", uri, position_of(text, "trials     = ", 13)));
    BOOST_TEST(names.count("num_trials") == 1);
    BOOST_TEST(names.count("epochs") == 1);
    BOOST_TEST(names.count("env") == 1);
    std::set<std::string> envs = labels(s.at("textDocument/completion", uri, position_of(text, "environment  = ", 15)));
    BOOST_TEST(envs.count("pytorch_birds") == 1);
    BOOST_TEST(envs.count("curated.local_torch") == 1);
    BOOST_TEST(envs.count("epochs") == 0);

    // Sampling values, early-stop kinds, types, compute kinds, a sweep's results.
    BOOST_TEST(labels(s.at("textDocument/completion", uri, position_of(text, "sampling   = ", 13))).count("grid") == 1);
    BOOST_TEST(labels(s.at("textDocument/completion", uri, position_of(text, "early_stop = ", 13))).count("bandit") == 1);
    std::string more = text + "param extra: \ncompute c : ";
    s.change(uri, more, 5);
    BOOST_TEST(labels(s.at("textDocument/completion", uri, position_of(more, "extra: ", 7))).count("duration") == 1);
    BOOST_TEST(labels(s.at("textDocument/completion", uri, position_of(more, "compute c : ", 12))).count("amlcompute") == 1);
    std::string member = text;
    member.replace(member.find("tune.best.outputs / \"model.pt\"\n    description"), 17, "tune.");
    s.change(uri, member, 6);
    BOOST_TEST((labels(s.at("textDocument/completion", uri, position_of(member, "tune. /", 5))) == std::set<std::string>{"best"}));
    s.change(uri, text, 7);
    std::set<std::string> trial = labels(s.at("textDocument/completion", uri, position_of(text, "= tune.best.outputs", 12)));
    BOOST_TEST(trial.count("outputs") == 1);
    BOOST_TEST(trial.count("params") == 1);
    std::set<std::string> curated = labels(s.at("textDocument/completion", uri, position_of(text, "from curated.local_torch", 13)));
    BOOST_TEST(curated.count("pytorch_1_6_gpu") == 1);
}

BOOST_AUTO_TEST_CASE(hover_explains_fields_params_builtins_and_keywords) {
    Session s;
    std::string uri = uri_of(birds_path());
    std::string text = read_file(birds_path());
    s.open(uri, text);
    auto hover_text = [&](const json& position) {
        json response = s.at("textDocument/hover", uri, position);
        return response["result"].is_null() ? std::string() : response["result"]["contents"]["value"].get<std::string>();
    };
    std::string field = hover_text(position_of(text, "restarts     = 1", 2));
    BOOST_TEST(field.find("**restarts**: an int") != std::string::npos);
    BOOST_TEST(field.find("whole-group restarts") != std::string::npos);
    BOOST_TEST(field.find("Default: `0`") != std::string::npos);
    std::string param = hover_text(position_of(text, "epochs, \"--learning_rate\"", 1));
    BOOST_TEST(param.find("param epochs: int = 4") != std::string::npos);
    std::string local = hover_text(position_of(text, "lr, \"--output_dir\"", 0));
    BOOST_TEST(local.find("lr: float = base_lr") != std::string::npos);
    std::string env = hover_text(position_of(text, "from curated.local_torch", 15));
    BOOST_TEST(env.find("environment local_torch") != std::string::npos);
    BOOST_TEST(env.find("<std>/curated.amlflow") != std::string::npos);
    BOOST_TEST(hover_text(position_of(text, "loguniform(", 2)).find("loguniform(low, high)") != std::string::npos);
    BOOST_TEST(hover_text(position_of(text, "pytorch { nodes", 2)).find("distribution pytorch") != std::string::npos);
    BOOST_TEST(hover_text(position_of(text, "sweep tune", 1)).find("keyword") != std::string::npos);
    BOOST_TEST(hover_text(position_of(text, "= tune.best.outputs", 8)).find("trial") != std::string::npos);
    BOOST_TEST(hover_text(position_of(text, "= random", 4)).find("sampling") != std::string::npos);
}

// The hosts compute's fields come from the schema: offered inside its block (not inside a
// local one), explained on hover, and its own checks reach the editor as diagnostics.
BOOST_AUTO_TEST_CASE(a_hosts_compute_offers_explains_and_checks_its_fields) {
    Session s;
    std::string uri = "untitled:hosts.amlflow";
    std::string text = "compute farm : hosts {\n  hosts = [\"node1:4\", \"node2:4\"]\n  \n}\n"
                       "compute here : local {\n  \n}\n";
    s.open(uri, text);
    std::set<std::string> farm = labels(s.at("textDocument/completion", uri, position_of(text, "  \n}", 2, 0)));
    for (const char* wanted : {"identity_file", "ssh_config", "user", "interface", "workdir", "shared_fs", "python",
                               "gpus", "slots", "ssh_port"}) {
        BOOST_TEST(farm.count(wanted) == 1, "offers " << wanted);
    }
    BOOST_TEST(farm.count("hosts") == 0);  // written already
    BOOST_TEST(farm.count("cpus") == 0);   // a local compute's
    std::set<std::string> here = labels(s.at("textDocument/completion", uri, position_of(text, "  \n}", 2, 1)));
    BOOST_TEST(here.count("cpus") == 1);
    BOOST_TEST(here.count("identity_file") == 0);

    std::string written = "compute farm : hosts {\n  hosts = [\"node1:4\", \"node1:2\"]\n"
                          "  identity_file = \"~/.ssh/id_ed25519\"\n  workdir = \"scratch\"\n}\n";
    json diagnostics = s.change(uri, written, 2);
    std::set<std::string> messages;
    for (const json& d : diagnostics) {
        std::string message = d["message"].get<std::string>();
        messages.insert(message.substr(0, message.find('\n')));  // the help follows
        if (d["code"] == "duplicate") BOOST_TEST(d["range"] == range(1, 22, 1, 31));  // the second "node1..."
    }
    BOOST_TEST(messages.count("host 'node1' is listed twice in compute 'farm'") == 1);
    BOOST_TEST(messages.count("compute 'farm' has workdir 'scratch', which is not an absolute path") == 1);
    BOOST_TEST(diagnostics.size() == 2u);  // the key file is not looked for here
    json hover = s.at("textDocument/hover", uri, position_of(written, "identity_file", 3));
    std::string field = hover["result"]["contents"]["value"].get<std::string>();
    BOOST_TEST(field.find("**identity_file**: a string") != std::string::npos);
    BOOST_TEST(field.find("~ is expanded") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(definition_in_the_file_and_across_the_stdlib_import) {
    Session s;
    std::string uri = uri_of(birds_path());
    std::string text = read_file(birds_path());
    s.open(uri, text);
    json local = s.at("textDocument/definition", uri, position_of(text, "environment  = pytorch_birds", 16))["result"];
    BOOST_TEST(local["uri"] == uri);
    BOOST_TEST(local["range"]["start"] == position_of(text, "pytorch_birds from"));
    json step = s.at("textDocument/definition", uri, position_of(text, "= tune.best.outputs", 3))["result"];
    BOOST_TEST(step["range"]["start"] == position_of(text, "tune over"));

    json stdlib = s.at("textDocument/definition", uri, position_of(text, "from curated.local_torch", 15))["result"];
    std::string target = stdlib["uri"];
    BOOST_REQUIRE(target.rfind("file://", 0) == 0);
    BOOST_TEST(target.find("/std/curated.amlflow") != std::string::npos);
    BOOST_TEST(target.find(s.cache.root().string()) != std::string::npos);  // in the cache folder
    std::string copy = read_file(target.substr(7));
    BOOST_TEST(copy == read_file(source_dir() / "stdlib/std/curated.amlflow"));
    size_t line = stdlib["range"]["start"]["line"], character = stdlib["range"]["start"]["character"];
    std::istringstream lines(copy);
    std::string text_line;
    for (size_t i = 0; i <= line; ++i) std::getline(lines, text_line);
    BOOST_TEST(text_line.substr(character, 11) == "local_torch");
}

BOOST_AUTO_TEST_CASE(relative_imports_resolve_from_the_document_and_their_errors_land_on_the_import) {
    Session s;
    amlflow::testing::TempProject project;
    fs::path common = project.write("lib/common.amlflow", "param shared_lr: float = 0.1\nlet oops = missing\n");
    std::string uri = uri_of(project.root() / "main.amlflow");  // never saved: the editor's text is used
    std::string text = "import \"lib/common.amlflow\"\nlet lr = common.shared_lr\n";
    json diagnostics = s.open(uri, text);
    BOOST_REQUIRE_EQUAL(diagnostics.size(), 1u);
    BOOST_TEST(diagnostics[0]["range"] == range(0, 7, 0, 27));  // the import's path
    BOOST_TEST(diagnostics[0]["message"].get<std::string>().find("'missing'") != std::string::npos);
    const json& related = diagnostics[0]["relatedInformation"][0]["location"];
    BOOST_TEST(related["uri"] == uri_of(common));
    BOOST_TEST(related["range"] == range(1, 11, 1, 18));
    json target = s.at("textDocument/definition", uri, position_of(text, "shared_lr"))["result"];
    BOOST_TEST(target["uri"] == uri_of(common));
    BOOST_TEST(target["range"] == range(0, 6, 0, 15));
    json file = s.at("textDocument/definition", uri, position_of(text, "lib/"))["result"];
    BOOST_TEST(file["uri"] == uri_of(common));
}

BOOST_AUTO_TEST_CASE(document_symbols_of_birds_are_hierarchical) {
    Session s;
    std::string uri = uri_of(birds_path());
    s.open(uri, read_file(birds_path()));
    json symbols = s.client.call("textDocument/documentSymbol", {{"textDocument", {{"uri", uri}}}})["result"];
    std::vector<std::string> top;
    json experiment;
    for (const json& symbol : symbols) {
        top.push_back(symbol["name"]);
        if (symbol["name"] == "birds") experiment = symbol;
    }
    BOOST_TEST((top == std::vector<std::string>{"curated", "epochs", "base_lr", "num_trials", "lab_hosts", "azure",
                                                "pytorch_birds", "here", "lab", "gpu_cluster", "birds"}));
    std::vector<std::string> steps;
    for (const json& child : experiment["children"]) steps.push_back(child["name"]);
    BOOST_TEST((steps == std::vector<std::string>{"train", "tune", "bird_classifier", "bird_classifier_onnx", "best_model"}));
    BOOST_TEST(experiment["children"][0]["detail"] == "job train(lr: float = base_lr)");
    BOOST_TEST(experiment["children"][0]["children"][0]["name"] == "lr");
}

BOOST_AUTO_TEST_CASE(formatting_returns_edits_that_reach_a_fixed_point) {
    Session s;
    amlflow::testing::TempProject project;
    std::string uri = uri_of(project.write("messy.amlflow", ""));
    std::string messy = "param   epochs :int=4\nlet   x=[1,2,3]\n";
    s.open(uri, messy);
    json edits = s.client.call("textDocument/formatting", {{"textDocument", {{"uri", uri}}}, {"options", {{"tabSize", 2}, {"insertSpaces", true}}}})["result"];
    BOOST_REQUIRE(edits.is_array());
    BOOST_REQUIRE_EQUAL(edits.size(), 1u);
    std::string formatted = edits[0]["newText"];
    BOOST_TEST(formatted != messy);
    BOOST_TEST(formatted.find("param epochs: int = 4") != std::string::npos);
    s.change(uri, formatted, 2);
    json again = s.client.call("textDocument/formatting", {{"textDocument", {{"uri", uri}}}, {"options", json::object()}})["result"];
    BOOST_TEST(again.is_array());
    BOOST_TEST(again.empty());
}

BOOST_AUTO_TEST_CASE(every_prefix_of_every_example_gets_answers) {
    Session s;
    std::vector<fs::path> files;
    for (const auto& folder : fs::directory_iterator(source_dir() / "examples")) {
        if (!folder.is_directory()) continue;
        for (const auto& entry : fs::directory_iterator(folder.path())) {
            if (entry.path().extension() == ".amlflow") files.push_back(entry.path());
        }
    }
    BOOST_REQUIRE(files.size() >= 5u);
    int version = 1;
    auto probe = [&](const std::string& uri, const std::string& prefix, bool complete) {
        s.change(uri, prefix, ++version);
        json end = position_at(prefix, prefix.size());
        json answer = complete ? s.at("textDocument/completion", uri, end) : s.at("textDocument/hover", uri, end);
        BOOST_REQUIRE(answer.contains("result"));
    };
    for (const fs::path& file : files) {
        std::string uri = uri_of(file);
        std::string text = read_file(file);
        s.open(uri, "");
        for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 1)) {
            probe(uri, text.substr(0, at + 1), false);
            json symbols = s.client.call("textDocument/documentSymbol", {{"textDocument", {{"uri", uri}}}});
            BOOST_REQUIRE(symbols["result"].is_array());
        }
        s.client.drop_notifications();
    }
    // Character by character through birds, completing at each end.
    std::string uri = uri_of(birds_path());
    std::string text = read_file(birds_path());
    for (size_t n = 0; n <= text.size(); ++n) probe(uri, text.substr(0, n), true);
    BOOST_TEST(s.client.running());
}

BOOST_AUTO_TEST_CASE(garbage_gets_errors_and_the_server_keeps_answering) {
    Session s;
    LspClient& c = s.client;
    c.send_body("{ not json");
    json parse_error = c.wait_response(nullptr);
    BOOST_TEST(parse_error["error"]["code"] == -32700);
    c.send_body("{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"x\",\"params\":\"\xff\xfe\"}");  // not UTF-8
    BOOST_TEST(c.wait_response(nullptr)["error"]["code"] == -32700);
    c.send_raw("Content-Length: banana\r\n\r\n");
    BOOST_TEST(c.wait_response(nullptr)["error"]["code"] == -32700);
    c.send_raw("X-Nothing: 1\r\n\r\n");
    BOOST_TEST(c.wait_response(nullptr)["error"]["code"] == -32700);
    c.send_body("[1, 2]");
    BOOST_TEST(c.wait_response(nullptr)["error"]["code"] == -32600);
    BOOST_TEST(c.call("no/such/method", json::object())["error"]["code"] == -32601);
    c.notify("no/such/notification", json::object());  // ignored: no answer
    json bad_params = c.call("textDocument/hover", {{"textDocument", 5}});
    BOOST_TEST(bad_params["error"]["code"] == -32602);
    // Bad notifications are dropped; a document opened with odd text still answers.
    c.notify("textDocument/didOpen", {{"textDocument", "nope"}});
    c.notify("textDocument/didChange", json::object());
    std::string odd = std::string("experiment e { job j { script = \"\x01\" ") + std::string(20000, '{') + std::string("\0\0 }", 4);
    std::string uri = "untitled:Untitled-1";
    s.open(uri, odd);
    BOOST_TEST(s.at("textDocument/completion", uri, {{"line", 0}, {"character", 40}}).contains("result"));
    BOOST_TEST(s.at("textDocument/hover", uri, {{"line", 99}, {"character", 99999}}).contains("result"));
    std::string huge;
    for (int i = 0; i < 20000; ++i) huge += "param p" + std::to_string(i) + ": int = " + std::to_string(i) + "\n";
    BOOST_TEST(s.change(uri, huge, 3).empty());
    BOOST_TEST(c.call("textDocument/documentSymbol", {{"textDocument", {{"uri", uri}}}})["result"].size() == 20000u);
    BOOST_TEST(c.call("shutdown", nullptr)["result"].is_null());
    BOOST_TEST(c.call("textDocument/hover", json::object())["error"]["code"] == -32600);  // after shutdown
    c.notify("exit", nullptr);
    BOOST_TEST(c.wait_exit().value_or(-1) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
