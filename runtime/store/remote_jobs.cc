#include "runtime/store/remote_jobs.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path file_of(const fs::path& run_folder) { return run_folder / "remote-jobs.json"; }

}  // namespace

std::vector<RemoteJob> read_remote_jobs(const fs::path& run_folder) {
    std::ifstream in(file_of(run_folder));
    std::stringstream text;
    text << in.rdbuf();
    json all = json::parse(text.str(), nullptr, false);
    std::vector<RemoteJob> out;
    if (!all.is_array()) return out;
    for (const json& item : all) {
        if (!item.is_object()) continue;
        RemoteJob job{item.value("step", ""), item.value("attempt", 0), item.value("job", ""),
                      item.value("studio", ""), item.value("state", ""), {}};
        for (const json& state : item.value("states", json::array())) {
            if (state.is_object() && state.value("seconds", json()).is_number()) {
                job.states.emplace_back(state.value("state", ""), state["seconds"].get<double>());
            }
        }
        out.push_back(std::move(job));
    }
    return out;
}

bool record_remote_job(const fs::path& run_folder, const RemoteJob& job, std::string* error) {
    std::vector<RemoteJob> all = read_remote_jobs(run_folder);
    bool known = false;
    for (RemoteJob& one : all) {
        if (one.job != job.job) continue;
        known = true;
        if (!job.studio.empty()) one.studio = job.studio;
        if (!job.state.empty()) one.state = job.state;
        if (!job.states.empty()) one.states = job.states;
    }
    if (!known) all.push_back(job);
    json out = json::array();
    for (const RemoteJob& one : all) {
        json states = json::array();
        for (const auto& [state, seconds] : one.states) states.push_back({{"state", state}, {"seconds", seconds}});
        out.push_back({{"step", one.step}, {"attempt", one.attempt}, {"job", one.job}, {"studio", one.studio},
                       {"state", one.state}, {"states", states}});
    }
    std::error_code ec;
    fs::create_directories(run_folder, ec);
    fs::path temporary = file_of(run_folder).string() + ".tmp" + std::to_string(getpid());
    {
        std::ofstream file(temporary, std::ios::trunc);
        file << out.dump(2) << "\n";
        if (!file.flush()) {
            *error = "cannot write " + temporary.string();
            return false;
        }
    }
    fs::rename(temporary, file_of(run_folder), ec);
    if (ec) {
        *error = "cannot write " + file_of(run_folder).string() + ": " + ec.message();
        return false;
    }
    return true;
}

std::map<std::string, std::string> live_remote_jobs(const std::vector<RemoteJob>& jobs) {
    std::map<std::string, std::string> live;
    for (const RemoteJob& job : jobs) {  // oldest first: a later job of the step decides
        if (job.state == "submitted") {
            live[job.step] = job.job;
        } else {
            live.erase(job.step);
        }
    }
    return live;
}

}  // namespace amlflow::runtime
