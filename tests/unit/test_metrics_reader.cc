#include <boost/test/unit_test.hpp>

// The metrics channel read while ranks write: complete lines only (until the final
// read), offsets kept across calls, one file per rank, non-finite values, logged params,
// and bad lines skipped and counted.
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <string>

#include "runtime/store/metrics_reader.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace amlflow::runtime;
using amlflow::testing::TempProject;

namespace {

void append(const fs::path& file, const std::string& text) {
    std::ofstream(file, std::ios::binary | std::ios::app) << text;
}

std::vector<std::string> names(const MetricsBatch& batch) {
    std::vector<std::string> out;
    for (const MetricRecord& metric : batch.metrics) out.push_back(metric.name);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_reader)

BOOST_AUTO_TEST_CASE(a_metric_line_is_read_with_its_keys) {
    TempProject project;
    project.write("m/rank-0.jsonl", R"({"name": "loss", "value": 0.25, "step": 3, "time": 1763791234.5})" "\n");
    MetricsReader reader("run-1", "train", 2, project.root() / "m");
    BOOST_TEST(reader.folder() == project.root() / "m");
    MetricsBatch batch = reader.read();
    BOOST_TEST_REQUIRE(batch.metrics.size() == 1u);
    const MetricRecord& metric = batch.metrics[0];
    BOOST_TEST(metric.run_id == "run-1");
    BOOST_TEST(metric.step == "train");
    BOOST_TEST(metric.attempt == 2);
    BOOST_TEST(metric.rank == 0);
    BOOST_TEST(metric.name == "loss");
    BOOST_TEST(metric.value == 0.25);
    BOOST_TEST(metric.step_index == 3);
    BOOST_TEST(metric.time_ms == 1763791234500);
    BOOST_TEST(batch.bad_lines == 0);
    BOOST_TEST(batch.params.empty());
}

BOOST_AUTO_TEST_CASE(step_and_time_are_optional) {
    TempProject project;
    project.write("m/rank-0.jsonl",
                  "{\"name\": \"acc\", \"value\": 1}\n"
                  "{\"name\": \"acc\", \"value\": 0.5, \"step\": -4, \"time\": \"soon\"}\n"
                  "{\"name\": \"acc\", \"value\": 0.5, \"step\": 2.5}\n");
    MetricsBatch batch = MetricsReader("r", "s", 0, project.root() / "m").read();
    BOOST_TEST_REQUIRE(batch.metrics.size() == 3u);
    for (const MetricRecord& metric : batch.metrics) {
        BOOST_TEST(metric.step_index == -1);
        BOOST_TEST(metric.time_ms == 0);  // the store stamps it
    }
    BOOST_TEST(batch.metrics[0].value == 1.0);
}

BOOST_AUTO_TEST_CASE(a_time_that_cannot_be_seconds_since_1970_is_left_to_the_store) {
    TempProject project;
    project.write("m/rank-0.jsonl",
                  "{\"name\": \"a\", \"value\": 1, \"time\": -5}\n"
                  "{\"name\": \"a\", \"value\": 1, \"time\": 1e300}\n"
                  "{\"name\": \"a\", \"value\": 1, \"time\": 1700000000}\n");
    MetricsBatch batch = MetricsReader("r", "s", 0, project.root() / "m").read();
    BOOST_TEST_REQUIRE(batch.metrics.size() == 3u);
    BOOST_TEST(batch.metrics[0].time_ms == 0);
    BOOST_TEST(batch.metrics[1].time_ms == 0);
    BOOST_TEST(batch.metrics[2].time_ms == 1700000000000);
}

BOOST_AUTO_TEST_CASE(a_rank_name_that_is_not_a_regular_file_is_skipped) {
    TempProject project;
    project.write("m/rank-0.jsonl", "{\"name\": \"a\", \"value\": 1}\n");
    BOOST_TEST_REQUIRE(mkfifo((project.root() / "m" / "rank-1.jsonl").c_str(), 0600) == 0);
    fs::create_directories(project.root() / "m" / "rank-2.jsonl");
    MetricsBatch batch = MetricsReader("r", "s", 0, project.root() / "m").read(true);  // returns
    BOOST_TEST_REQUIRE(batch.metrics.size() == 1u);
    BOOST_TEST(batch.metrics[0].rank == 0);
}

BOOST_AUTO_TEST_CASE(only_complete_lines_until_the_final_read) {
    TempProject project;
    fs::path file = project.write("m/rank-0.jsonl", "{\"name\": \"a\", \"value\": 1}\n{\"name\": \"b\", \"val");
    MetricsReader reader("r", "s", 0, project.root() / "m");
    BOOST_TEST((names(reader.read()) == std::vector<std::string>{"a"}));
    BOOST_TEST(reader.read().metrics.empty());  // nothing new yet, and "a" not again
    append(file, "ue\": 2}\n{\"name\": \"c\", \"value\": 3}");
    MetricsBatch middle = reader.read();
    BOOST_TEST((names(middle) == std::vector<std::string>{"b"}));
    BOOST_TEST(middle.metrics[0].value == 2.0);
    BOOST_TEST(middle.bad_lines == 0);  // the half line was never parsed
    MetricsBatch last = reader.read(true);
    BOOST_TEST((names(last) == std::vector<std::string>{"c"}));
    BOOST_TEST(reader.read(true).metrics.empty());
}

BOOST_AUTO_TEST_CASE(each_rank_file_is_read_with_its_own_offset) {
    TempProject project;
    fs::path zero = project.write("m/rank-0.jsonl", "{\"name\": \"loss\", \"value\": 1}\n");
    fs::path twelve = project.write("m/rank-12.jsonl", "{\"name\": \"loss\", \"value\": 2}\n");
    project.write("m/rank-x.jsonl", "{\"name\": \"loss\", \"value\": 9}\n");
    project.write("m/rank-3.log", "{\"name\": \"loss\", \"value\": 9}\n");
    project.write("m/notes.jsonl", "{\"name\": \"loss\", \"value\": 9}\n");
    project.write("m/rank-.jsonl", "{\"name\": \"loss\", \"value\": 9}\n");
    MetricsReader reader("r", "s", 0, project.root() / "m");
    MetricsBatch first = reader.read();
    BOOST_TEST_REQUIRE(first.metrics.size() == 2u);
    std::map<int, double> by_rank;
    for (const MetricRecord& metric : first.metrics) by_rank[metric.rank] = metric.value;
    BOOST_TEST((by_rank == std::map<int, double>{{0, 1.0}, {12, 2.0}}));

    append(twelve, "{\"name\": \"loss\", \"value\": 3}\n");
    MetricsBatch second = reader.read();
    BOOST_TEST_REQUIRE(second.metrics.size() == 1u);
    BOOST_TEST(second.metrics[0].rank == 12);
    BOOST_TEST(second.metrics[0].value == 3.0);

    append(zero, "{\"name\": \"loss\", \"value\": 4}\n");
    project.write("m/rank-1.jsonl", "{\"name\": \"loss\", \"value\": 5}\n");  // a late rank
    MetricsBatch third = reader.read();
    by_rank.clear();
    for (const MetricRecord& metric : third.metrics) by_rank[metric.rank] = metric.value;
    BOOST_TEST((by_rank == std::map<int, double>{{0, 4.0}, {1, 5.0}}));
}

BOOST_AUTO_TEST_CASE(a_missing_folder_reads_as_nothing) {
    TempProject project;
    MetricsReader reader("r", "s", 0, project.root() / "not-yet");
    MetricsBatch batch = reader.read(true);
    BOOST_TEST(batch.metrics.empty());
    BOOST_TEST(batch.bad_lines == 0);
}

BOOST_AUTO_TEST_CASE(non_finite_values_travel_as_strings) {
    TempProject project;
    project.write("m/rank-0.jsonl",
                  "{\"name\": \"loss\", \"value\": \"NaN\"}\n"
                  "{\"name\": \"loss\", \"value\": \"Infinity\"}\n"
                  "{\"name\": \"loss\", \"value\": \"-Infinity\"}\n"
                  "{\"name\": \"loss\", \"value\": \"1.5\"}\n"
                  "{\"name\": \"loss\", \"value\": NaN}\n");
    MetricsBatch batch = MetricsReader("r", "s", 0, project.root() / "m").read();
    BOOST_TEST_REQUIRE(batch.metrics.size() == 3u);
    BOOST_TEST(std::isnan(batch.metrics[0].value));
    BOOST_TEST(std::isinf(batch.metrics[1].value));
    BOOST_TEST(batch.metrics[1].value > 0);
    BOOST_TEST(std::isinf(batch.metrics[2].value));
    BOOST_TEST(batch.metrics[2].value < 0);
    // A number in a string and a bare NaN (not JSON) are bad lines.
    BOOST_TEST(batch.bad_lines == 2);
}

BOOST_AUTO_TEST_CASE(params_lines_are_kept_per_rank_as_json) {
    TempProject project;
    project.write("m/rank-0.jsonl",
                  "{\"params\": {\"lr\": 0.01, \"optimizer\": \"sgd\", \"layers\": [1, 2]}}\n"
                  "{\"name\": \"loss\", \"value\": 1}\n");
    project.write("m/rank-1.jsonl", "{\"params\": {\"seed\": 7}}\n");
    MetricsBatch batch = MetricsReader("r", "s", 0, project.root() / "m").read();
    BOOST_TEST(batch.metrics.size() == 1u);
    BOOST_TEST(batch.bad_lines == 0);
    BOOST_TEST_REQUIRE(batch.params.count(0) == 1u);
    std::map<std::string, std::string> zero(batch.params[0].begin(), batch.params[0].end());
    BOOST_TEST(zero.size() == 3u);
    BOOST_TEST(zero["lr"] == "0.01");
    BOOST_TEST(zero["optimizer"] == "\"sgd\"");
    BOOST_TEST(zero["layers"] == "[1,2]");
    BOOST_TEST_REQUIRE(batch.params.count(1) == 1u);
    BOOST_TEST(batch.params[1].size() == 1u);
    BOOST_TEST(batch.params[1][0].first == "seed");
    BOOST_TEST(batch.params[1][0].second == "7");
}

BOOST_AUTO_TEST_CASE(bad_lines_are_counted_and_skipped) {
    TempProject project;
    project.write("m/rank-0.jsonl",
                  "not json at all\n"
                  "[1, 2, 3]\n"
                  "{\"value\": 1}\n"
                  "{\"name\": \"\", \"value\": 1}\n"
                  "{\"name\": 5, \"value\": 1}\n"
                  "{\"name\": \"loss\"}\n"
                  "{\"name\": \"loss\", \"value\": null}\n"
                  "{\"params\": 3}\n"
                  "\n"
                  "   \r\n"
                  "{\"name\": \"loss\", \"value\": 0.5}\r\n"
                  "{\"name\": \"ok\", \"value\": 2}\n");
    MetricsBatch batch = MetricsReader("r", "s", 0, project.root() / "m").read();
    BOOST_TEST(batch.bad_lines == 8);  // blank lines are not bad
    BOOST_TEST((names(batch) == std::vector<std::string>{"loss", "ok"}));
    BOOST_TEST(batch.metrics[0].value == 0.5);
}

BOOST_AUTO_TEST_SUITE_END()
