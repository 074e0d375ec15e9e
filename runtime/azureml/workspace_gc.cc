#include "runtime/azureml/workspace_gc.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/arm_pages.h"
#include "runtime/azureml/job_watch.h"
#include "runtime/azureml/workspace_session.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

namespace {

using Items = std::vector<json>;
using Next = std::function<void(Items)>;

std::string text(const json& object, const char* key) {
    if (!object.is_object()) return "";
    auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

const json& properties(const json& item) {
    static const json none = json::object();
    auto found = item.is_object() ? item.find("properties") : item.end();
    return item.is_object() && found != item.end() && found->is_object() ? *found : none;
}

int number(const json& object, const char* key) {
    auto found = object.is_object() ? object.find(key) : object.end();
    return object.is_object() && found != object.end() && found->is_number() ? found->get<int>() : 0;
}

bool tagged(const json& tags) { return text(tags, kCreatedByTag) == kCreatedByAmlflow; }

// A code version amlflow made is named by its content hash (code_hash.h): 64 hex digits.
bool hash_name(const std::string& name) {
    return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

GcItem item_of(const std::string& kind, const std::string& name, const std::string& version = "") {
    GcItem item;
    item.kind = kind;
    item.name = name;
    item.version = version;
    return item;
}

class WorkspaceGc : public std::enable_shared_from_this<WorkspaceGc> {
public:
    WorkspaceGc(ArmClient& arm, bool dry_run, WorkspaceGcOutcome& out) : arm_(arm), dry_run_(dry_run), out_(out) {}

    void start() {
        auto self = shared_from_this();
        list(workspace_path(arm_.workspace()) + "/jobs", "jobs", [self](Items jobs) {
            for (const json& job : jobs) self->note_job(job);
            self->list(workspace_path(self->arm_.workspace()) + "/computes", "computes", [self](Items computes) {
                for (const json& compute : computes) self->judge_compute(compute);
                self->assets("environments", [self] { self->assets("codes", [self] { self->finish_reading(); }); });
            });
        });
    }
    bool done() const { return done_; }

private:
    // Every item of a paged list (arm_pages.h).
    void list(const std::string& path, const std::string& what, Next next) {
        auto self = shared_from_this();
        list_all(arm_, path, [self, what, next](std::optional<Items> items, std::string error) {
            if (!items) return self->fail("cannot list the workspace's " + what + ": " + error);
            next(std::move(*items));
        });
    }

    // What a job that has not ended names: it keeps those.
    void note_job(const json& job) {
        const json& p = properties(job);
        if (terminal_status(text(p, "status"))) return;
        std::string name = text(job, "name");
        const json trial = p.value("trial", json::object());
        for (const json* part : {&p, &trial}) {
            for (const char* key : {"codeId", "environmentId"}) {
                if (!text(*part, key).empty()) used_ids_[lowercase(text(*part, key))] = name;
            }
        }
        std::string compute = text(p, "computeId");
        if (!compute.empty()) used_computes_[lowercase(compute.substr(compute.rfind('/') + 1))] = name;
        const json inputs = p.value("inputs", json::object());
        for (const auto& [input, value] : inputs.items()) {
            if (!text(value, "uri").empty()) used_uris_.emplace_back(text(value, "uri"), name);
        }
    }

    void judge_compute(const json& compute) {
        const json& p = properties(compute);
        if (!tagged(compute.value("tags", json::object())) || text(p, "computeType") != "AmlCompute") return;
        GcItem item = item_of("compute", text(compute, "name"));
        std::string state = text(p, "provisioningState");
        int nodes = number(properties(p), "currentNodeCount");
        auto job = used_computes_.find(lowercase(item.name));
        if (state == "Creating" || state == "Deleting" || state == "Updating") {
            item.kept = "it is " + lowercase(state);
        } else if (job != used_computes_.end()) {
            item.kept = "job '" + job->second + "' runs on it";
        } else if (nodes > 0) {
            item.kept = std::to_string(nodes) + " node" + (nodes == 1 ? "" : "s") +
                        " up (a cluster scales down after its idle time; try again then)";
        }
        out_.items.push_back(item);
    }

    // The containers of one kind amlflow names its own way, then each one's versions.
    void assets(const std::string& kind, std::function<void()> then) {
        auto self = shared_from_this();
        list(workspace_path(arm_.workspace()) + "/" + kind, kind, [self, kind, then](Items containers) {
            auto names = std::make_shared<std::vector<std::string>>();
            for (const json& container : containers) {
                std::string name = text(container, "name");
                if (kind == "environments" ? name.rfind("amlflow-", 0) == 0 : hash_name(name)) names->push_back(name);
            }
            self->versions(kind, names, 0, then);
        });
    }
    void versions(const std::string& kind, std::shared_ptr<std::vector<std::string>> names, size_t at,
                  std::function<void()> then) {
        if (at == names->size()) return then();
        auto self = shared_from_this();
        std::string name = (*names)[at];
        list(container_path(kind, name) + "/versions", kind + " '" + name + "'",
             [self, kind, names, at, then, name](Items found) {
                 for (const json& version : found) self->judge_version(kind, name, version);
                 self->versions(kind, names, at + 1, then);
             });
    }
    void judge_version(const std::string& kind, const std::string& name, const json& version) {
        const json& p = properties(version);
        GcItem item = item_of(kind == "codes" ? "code" : "environment", name, text(version, "name"));
        auto user = used_ids_.find(lowercase(text(version, "id")));
        std::string uri = text(p, "codeUri");
        if (!tagged(p.value("tags", json::object()))) {
            item.tagged = false;
            item.kept = "amlflow did not create it (no " + std::string(kCreatedByTag) + ": " + kCreatedByAmlflow + " tag)";
        } else if (user != used_ids_.end()) {
            item.kept = "job '" + user->second + "' uses it";
        }
        for (const auto& [input, job] : used_uris_) {
            if (item.kept.empty() && !uri.empty() && input.rfind(uri, 0) == 0) item.kept = "job '" + job + "' reads it";
        }
        out_.items.push_back(item);
    }

    std::string container_path(const std::string& kind, const std::string& name) const {
        return workspace_path(arm_.workspace()) + "/" + kind + "/" + percent_encode(name);
    }

    void finish_reading() {
        out_.ok = true;
        if (dry_run_) return end();
        remove(0);
    }

    // One removal after the other, then the containers they emptied.
    void remove(size_t at) {
        while (at < out_.items.size() && !out_.items[at].kept.empty()) ++at;
        if (at == out_.items.size()) return remove_containers();
        auto self = shared_from_this();
        auto next = [self, at](std::string error) {
            self->out_.items[at].error = error;
            self->out_.items[at].removed = error.empty();
            self->remove(at + 1);
        };
        const GcItem& item = out_.items[at];
        if (item.kind == "compute") return delete_compute(item.name, next);
        std::string kind = item.kind == "code" ? "codes" : "environments";
        arm_.call("DELETE", container_path(kind, item.name) + "/versions/" + percent_encode(item.version), nullptr,
                  [next](ArmAnswer answer) { next(answer.ok() || answer.status == 404 ? "" : answer.error); });
    }

    void delete_compute(const std::string& name, std::function<void(std::string)> next) {
        auto self = shared_from_this();
        arm_.call("DELETE", compute_path(arm_.workspace(), name), nullptr, [self, next](ArmAnswer answer) {
            if (answer.status == 404) return next("");
            if (!answer.ok()) return next(answer.error);
            const std::string* operation = answer.header("azure-asyncoperation");
            if (!operation) operation = answer.header("location");
            if (answer.status == 200 || answer.status == 204 || !operation) return next("");
            self->follow(*operation, next);
        }, kArmApiVersion, "underlyingResourceAction=Delete");
    }

    // The deletion's long-running operation, polled as its `Retry-After` asks (5 s by default).
    void follow(const std::string& url, std::function<void(std::string)> next) {
        auto self = shared_from_this();
        arm_.get_url(url, true, [self, url, next](ArmAnswer answer) {
            if (!answer.ok()) return next("the deletion's status: " + answer.error);
            std::string state = answer.status == 202 ? "InProgress" : text(answer.body, "status");
            if (state.empty() || state == "Succeeded") return next("");
            if (state == "Failed" || state == "Canceled") {
                return next("the service says " + state + ": " + text(answer.body.value("error", json::object()), "message"));
            }
            long long wait_s = 5;
            if (const std::string* after = answer.header("retry-after")) wait_s = std::max(0LL, std::atoll(after->c_str()));
            self->arm_.client().loop().after(std::chrono::seconds(wait_s), [self, url, next] { self->follow(url, next); });
        });
    }

    // A container whose last version went is removed too (another client may have added one
    // meanwhile: then it stays).
    void remove_containers() {
        std::set<std::pair<std::string, std::string>> emptied;
        for (const GcItem& item : out_.items) {
            if (item.removed && item.kind != "compute") emptied.emplace(item.kind, item.name);
        }
        for (const GcItem& item : out_.items) {
            if (!item.removed && item.kind != "compute") emptied.erase({item.kind, item.name});
        }
        auto queue = std::make_shared<std::vector<std::pair<std::string, std::string>>>(emptied.begin(), emptied.end());
        remove_container(queue, 0);
    }
    void remove_container(std::shared_ptr<std::vector<std::pair<std::string, std::string>>> queue, size_t at) {
        if (at == queue->size()) return end();
        auto self = shared_from_this();
        auto [kind, name] = (*queue)[at];
        std::string path = container_path(kind == "code" ? "codes" : "environments", name);
        arm_.call("GET", path + "/versions", nullptr, [self, queue, at, path, kind, name](ArmAnswer left) {
            bool empty = left.ok() && left.body.is_object() && left.body.value("value", json::array()).empty();
            if (!empty) return self->remove_container(queue, at + 1);
            self->arm_.call("DELETE", path, nullptr, [self, queue, at, kind, name](ArmAnswer answer) {
                GcItem item = item_of(kind, name);
                item.removed = answer.ok();
                item.error = answer.ok() ? "" : answer.error;
                self->out_.items.push_back(item);
                self->remove_container(queue, at + 1);
            });
        });
    }

    void fail(const std::string& error) {
        out_.error = error;
        end();
    }
    void end() { done_ = true; }

    ArmClient& arm_;
    bool dry_run_;
    WorkspaceGcOutcome& out_;
    bool done_ = false;
    std::map<std::string, std::string> used_ids_;        // lowercased ARM id -> a job naming it
    std::map<std::string, std::string> used_computes_;   // lowercased compute name -> a job on it
    std::vector<std::pair<std::string, std::string>> used_uris_;  // input uri -> its job
};

}  // namespace

WorkspaceGcOutcome collect_workspace_garbage(const WorkspaceRef& workspace, bool dry_run) {
    WorkspaceGcOutcome out;
    auto session = WorkspaceSession::open(workspace, &out.error);
    if (!session) return out;
    auto gc = std::make_shared<WorkspaceGc>(session->arm(), dry_run, out);
    gc->start();
    session->loop().run_until([&] { return gc->done(); });
    out.error = session->scrub(out.error);
    for (GcItem& item : out.items) item.error = session->scrub(item.error);
    return out;
}

}  // namespace amlflow::runtime::azureml
