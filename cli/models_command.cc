// `amlflow models list|show|download`: the store's model registry. A model is named
// NAME (its latest version) or NAME:VERSION. With --workspace, the Azure ML workspace's
// registry instead (models_workspace.h), the workspace from --file's pipeline or a config.json.
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/models_workspace.h"
#include "cli/store_option.h"
#include "cli/table_format.h"
#include "runtime/core/artifacts.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
using namespace amlflow::runtime;

namespace {

// "name" or "name:3"; nullopt when the version is not a positive number.
std::optional<std::pair<std::string, int>> parse_reference(const std::string& text) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return std::make_pair(text, 0);
    std::string version = text.substr(colon + 1);
    if (version.empty() || version.size() > 9 || version.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(version) < 1) {
        return std::nullopt;
    }
    return std::make_pair(text.substr(0, colon), std::stoi(version));
}

std::optional<ModelRecord> find(RunStore& store, const std::string& reference) {
    auto parsed = parse_reference(reference);
    if (!parsed) {
        std::cerr << "amlflow: error: '" << reference << "' is not NAME or NAME:VERSION (versions count from 1)\n";
        return std::nullopt;
    }
    auto model = store.find_model(parsed->first, parsed->second);
    if (!model) {
        std::cerr << "amlflow: error: " << store.last_error() << "\n";
        if (auto all = store.list_models(parsed->first); all && !all->empty()) {
            std::cerr << "note: '" << parsed->first << "' has versions 1 to " << all->back().version << "\n";
        }
    }
    return model;
}

int list(const StoreOption& where, const std::string& name) {
    auto store = where.open();
    if (!store) return 1;
    auto models = store->list_models(name);
    if (!models) {
        std::cerr << "amlflow: error: " << store->last_error() << "\n";
        return 1;
    }
    if (models->empty()) {
        std::cout << (name.empty() ? "no models registered\n" : "no model '" + name + "' registered\n");
        return 0;
    }
    std::cout << pad("model", 24) << pad("version", 9) << pad("registered", 21) << pad("run", 22) << "from step\n";
    for (const ModelRecord& model : *models) {
        std::cout << pad(model.name, 24) << pad(std::to_string(model.version), 9) << pad(clock_time(model.created_ms), 21)
                  << pad(model.run_id, 22) << model.source_step << "\n";
    }
    return 0;
}

int show(const StoreOption& where, const std::string& reference) {
    auto store = where.open();
    if (!store) return 1;
    auto model = find(*store, reference);
    if (!model) return 1;
    std::cout << "model " << model->name << " version " << model->version << "\n"
              << "  registered: " << clock_time(model->created_ms) << " by step '" << model->step << "' of run "
              << model->run_id << "\n"
              << "  from: step '" << model->source_step << "', attempt " << shown_attempt(model->source_attempt) << "\n"
              << "  content: sha256 " << model->hash << ", " << model->bytes << (model->bytes == 1 ? " byte\n" : " bytes\n")
              << "  path: " << model->path.string() << "\n";
    if (std::string place = workspace_line(*model); !place.empty()) std::cout << "  workspace: " << place << "\n";
    if (!model->description.empty()) std::cout << "  description: " << model->description << "\n";
    auto tags = nlohmann::json::parse(model->tags_json, nullptr, false);
    if (tags.is_object() && !tags.empty()) {
        std::cout << "  tags:";
        // A tag is text; one kept unresolved by an older amlflow still shows, as JSON.
        for (auto it = tags.begin(); it != tags.end(); ++it) {
            std::cout << " " << it.key() << "="
                      << (it.value().is_string() ? it.value().get<std::string>()
                                                 : it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        }
        std::cout << "\n";
    }
    auto metrics = nlohmann::json::parse(model->metrics_json, nullptr, false);
    if (metrics.is_object() && !metrics.empty()) {
        std::cout << "  metrics at registration:";
        for (auto it = metrics.begin(); it != metrics.end(); ++it) std::cout << " " << it.key() << "=" << it.value().dump();
        std::cout << "\n";
    }
    return 0;
}

int download(const StoreOption& where, const std::string& reference, const std::string& to, bool overwrite) {
    auto store = where.open();
    if (!store) return 1;
    auto model = find(*store, reference);
    if (!model) return 1;
    std::string error;
    // A copy garbage-collected, or never here: the workspace it was registered in has it.
    std::error_code ec;
    if (!fs::exists(model->path, ec) && !restore_from_workspace(*model, &error)) {
        std::cerr << "amlflow: error: model '" << model->name << "' version " << model->version << ": " << error << "\n";
        return 1;
    }
    bool is_file = fs::is_regular_file(model->path);
    fs::path target = is_file ? fs::path(to) / model->path.filename() : fs::path(to);
    if (!copy_confined(model->path, target, overwrite, &error, "pass --overwrite to replace it")) {
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    std::cout << "model " << model->name << " version " << model->version << " -> " << target.string() << "\n";
    return 0;
}

}  // namespace

Runner add_models_command(CLI::App& app) {
    auto where = std::make_shared<StoreOption>();
    auto name = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    CLI::App* models = app.add_subcommand("models", "The model registry: list, show and download versions");
    models->require_subcommand(1);
    auto workspace = std::make_shared<bool>(false);
    const char* workspace_help = "The Azure ML workspace's registry (the one --file's pipeline declares, else a config.json)";
    CLI::App* list_command = models->add_subcommand("list", "Every registered version, by name");
    list_command->add_option("name", *name, "Only this model");
    list_command->add_flag("--workspace", *workspace, workspace_help);
    where->add_to(list_command);
    CLI::App* show_command = models->add_subcommand("show", "A version's lineage: run, step, attempt, metrics, tags");
    show_command->add_option("model", *name, "NAME (the latest version) or NAME:VERSION")->required();
    where->add_to(show_command);
    CLI::App* download_command = models->add_subcommand("download", "Copy a version's files into a folder");
    download_command->add_option("model", *name, "NAME (the latest version) or NAME:VERSION")->required();
    download_command->add_option("dir", *to, "The folder to copy into (created)")->required();
    auto overwrite = std::make_shared<bool>(false);
    download_command->add_flag("--overwrite", *overwrite, "Replace files in the folder that differ from the model's");
    download_command->add_flag("--workspace", *workspace, workspace_help);
    where->add_to(download_command);
    return [=]() {
        if (list_command->parsed()) return *workspace ? list_workspace_models(where->file, *name) : list(*where, *name);
        if (show_command->parsed()) return show(*where, *name);
        if (*workspace) return download_workspace_model(where->file, *name, *to, *overwrite);
        return download(*where, *name, *to, *overwrite);
    };
}

}  // namespace amlflow::cli
