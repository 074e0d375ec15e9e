#include "runtime/azureml/mlflow_metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include "runtime/azureml/http_client.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

std::string mlflow_base(const std::string& api_base, const std::string& tracking_uri, const WorkspaceRef& workspace) {
    std::string base = api_base;
    while (!base.empty() && base.back() == '/') base.pop_back();
    size_t at = tracking_uri.find("/mlflow/");
    std::string path = at == std::string::npos ? "/mlflow/v1.0" + workspace_path(workspace) : tracking_uri.substr(at);
    size_t query = path.find('?');
    if (query != std::string::npos) path.erase(query);
    while (!path.empty() && path.back() == '/') path.pop_back();
    return base + path;
}

void MlflowMetrics::start() {
    auto self = shared_from_this();
    poll([self] {
        if (self->stopped_ || self->finishing_) return;
        self->arm_.client().loop().after(self->options_.interval, [self] {
            if (!self->stopped_ && !self->finishing_) self->start();
        });
    });
}

void MlflowMetrics::finish(std::function<void()> then) {
    finishing_ = true;
    auto self = shared_from_this();
    // A poll under way is left to end; a fresh one reads what came after it.
    auto last = [self, then] { self->poll([then] { then(); }); };
    if (!polling_) return last();
    arm_.client().loop().after(std::chrono::milliseconds(100), [self, then] { self->finish(then); });
}

void MlflowMetrics::poll(std::function<void()> then) {
    if (stopped_) return then();
    polling_ = true;
    auto self = shared_from_this();
    std::string url = options_.base + "/api/2.0/mlflow/runs/get?run_id=" + percent_encode(options_.run_id);
    arm_.get_url(url, true, [self, then](ArmAnswer answer) {
        auto done = [self, then] {
            self->polling_ = false;
            then();
        };
        if (self->stopped_ || !answer.ok() || !answer.body.is_object()) return done();
        json data = answer.body.value("run", json::object()).value("data", json::object());
        json params = json::object();
        for (const json& param : data.value("params", json::array())) {
            std::string key = param.value("key", "");
            if (key.empty() || self->params_.count(key)) continue;
            self->params_.insert(key);
            params[key] = param.value("value", "");
        }
        if (!params.empty()) self->append(json({{"params", params}}).dump() + "\n");
        auto keys = std::make_shared<std::vector<std::string>>();
        for (const json& metric : data.value("metrics", json::array())) keys->push_back(metric.value("key", ""));
        // One key after the other: each history call appends its new values in order.
        auto next = std::make_shared<std::function<void(size_t)>>();
        *next = [self, keys, next, done](size_t i) {
            if (i >= keys->size() || self->stopped_) return done();
            self->read_history((*keys)[i], [next, i] { (*next)(i + 1); });
        };
        (*next)(0);
    });
}

void MlflowMetrics::read_history(const std::string& key, std::function<void()> then) {
    if (key.empty()) return then();
    auto self = shared_from_this();
    std::string url = options_.base + "/api/2.0/mlflow/metrics/get-history?run_id=" + percent_encode(options_.run_id) +
                      "&metric_key=" + percent_encode(key);
    arm_.get_url(url, true, [self, key, then](ArmAnswer answer) {
        if (!self->stopped_ && answer.ok() && answer.body.is_object()) {
            json values = answer.body.value("metrics", json::array());
            size_t& seen = self->seen_[key];
            std::string lines;
            for (size_t i = seen; i < values.size(); ++i) {
                const json& m = values[i];
                json value = m.value("value", json());
                // MLflow writes non-finite values as the strings the channel uses too.
                json record = {{"name", key}, {"value", value.is_number() || value.is_string() ? value : json("NaN")}};
                if (m.contains("step")) record["step"] = m["step"].is_string() ? std::stoll(m["step"].get<std::string>())
                                                                                : m["step"].get<long long>();
                if (m.contains("timestamp")) {
                    double ms = m["timestamp"].is_string() ? std::stod(m["timestamp"].get<std::string>()) : m["timestamp"].get<double>();
                    record["time"] = ms / 1000.0;
                }
                lines += record.dump() + "\n";
            }
            seen = std::max(seen, values.size());
            if (!lines.empty()) self->append(lines);
        }
        then();
    });
}

// One write of whole lines on O_APPEND, as the Python helper writes the channel.
void MlflowMetrics::append(const std::string& lines) {
    if (options_.channel_file.empty()) return;
    int fd = ::open(options_.channel_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    wrote_ = wrote_ || !lines.empty();
    size_t done = 0;
    while (done < lines.size()) {
        ssize_t n = ::write(fd, lines.data() + done, lines.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
    }
    ::close(fd);
}

}  // namespace amlflow::runtime::azureml
