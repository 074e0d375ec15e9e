#include "runtime/store/metrics_reader.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<double> number_of(const json& value) {
    if (value.is_number()) return value.get<double>();
    if (value.is_boolean()) return value.get<bool>() ? 1.0 : 0.0;
    if (value.is_string()) {
        const std::string& text = value.get_ref<const std::string&>();
        if (text == "NaN" || text == "nan") return std::numeric_limits<double>::quiet_NaN();
        if (text == "Infinity" || text == "inf") return std::numeric_limits<double>::infinity();
        if (text == "-Infinity" || text == "-inf") return -std::numeric_limits<double>::infinity();
    }
    return std::nullopt;
}

// "rank-3.jsonl" -> 3, else -1.
int rank_of(const std::string& file) {
    const std::string prefix = "rank-", suffix = ".jsonl";
    if (file.size() <= prefix.size() + suffix.size() || file.compare(0, prefix.size(), prefix) != 0 ||
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return -1;
    }
    std::string digits = file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(digits);
}

}  // namespace

MetricsReader::MetricsReader(std::string run_id, std::string step, int attempt, fs::path folder)
    : run_id_(std::move(run_id)), step_(std::move(step)), attempt_(attempt), folder_(std::move(folder)) {}

void MetricsReader::parse_line(const std::string& line, int rank, MetricsBatch& batch) const {
    if (line.find_first_not_of(" \t\r") == std::string::npos) return;
    json record = json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object()) {
        ++batch.bad_lines;
        return;
    }
    if (record.contains("params") && record["params"].is_object()) {
        auto& params = batch.params[rank];
        for (auto it = record["params"].begin(); it != record["params"].end(); ++it) {
            params.emplace_back(it.key(), it.value().dump(-1, ' ', false, json::error_handler_t::replace));
        }
        return;
    }
    auto name = record.find("name");
    auto value = record.find("value");
    std::optional<double> number = value != record.end() ? number_of(*value) : std::nullopt;
    if (name == record.end() || !name->is_string() || name->get_ref<const std::string&>().empty() || !number) {
        ++batch.bad_lines;
        return;
    }
    MetricRecord metric;
    metric.run_id = run_id_;
    metric.step = step_;
    metric.attempt = attempt_;
    metric.rank = rank;
    metric.name = name->get<std::string>();
    metric.value = *number;
    auto index = record.find("step");
    if (index != record.end() && index->is_number_integer() && index->get<int64_t>() >= 0) metric.step_index = index->get<int64_t>();
    auto time = record.find("time");
    // Seconds since 1970 within year ~2500; anything else is a script's bug, not a time.
    if (time != record.end() && time->is_number() && time->get<double>() > 0 && time->get<double>() < 1.7e10) {
        metric.time_ms = static_cast<int64_t>(time->get<double>() * 1000);
    }
    batch.metrics.push_back(std::move(metric));
}

MetricsBatch MetricsReader::read(bool final) {
    MetricsBatch batch;
    std::error_code ec;
    for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
        std::string file = it->path().filename().string();
        int rank = rank_of(file);
        // Only regular files: a FIFO or a device put there by a script would block or
        // never end.
        if (rank < 0 || !it->is_regular_file(ec)) continue;
        std::ifstream in(it->path(), std::ios::binary);
        uint64_t& offset = offsets_[file];
        in.seekg(static_cast<std::streamoff>(offset));
        std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        size_t start = 0;
        for (size_t newline; (newline = chunk.find('\n', start)) != std::string::npos; start = newline + 1) {
            parse_line(chunk.substr(start, newline - start), rank, batch);
        }
        if (final && start < chunk.size()) {
            parse_line(chunk.substr(start), rank, batch);
            start = chunk.size();
        }
        offset += start;
    }
    return batch;
}

}  // namespace amlflow::runtime
