// The pure parts of what a rank gets and sends back: the shim's frames, the torchelastic
// error file, and which GPUs a caller's CUDA_VISIBLE_DEVICES leaves, and the environment
// precedence, without any process.
#include <boost/test/unit_test.hpp>

#include "compiler/rank_variables.h"
#include "runtime/core/error_file.h"
#include "runtime/core/gpu_discovery.h"
#include "runtime/core/rank_env.h"
#include "runtime/core/shim_protocol.h"

using namespace amlflow::runtime;
using nlohmann::json;

BOOST_AUTO_TEST_SUITE(rank_plumbing)

BOOST_AUTO_TEST_CASE(frames_survive_any_split_of_the_stream) {
    std::string stream = encode_frame(FrameType::hello, R"({"rank":3})") + encode_frame(FrameType::out, "") +
                         encode_frame(FrameType::err, std::string(70000, 'e')) + encode_frame(FrameType::exit, "{}");
    for (size_t piece : {size_t(1), size_t(3), size_t(5), size_t(4096), stream.size()}) {
        FrameReader reader;
        std::vector<Frame> frames;
        std::string error;
        for (size_t at = 0; at < stream.size(); at += piece) {
            reader.append(stream.data() + at, std::min(piece, stream.size() - at));
            while (auto frame = reader.next(&error)) frames.push_back(*frame);
            BOOST_REQUIRE(error.empty());
        }
        BOOST_REQUIRE_EQUAL(frames.size(), 4u);
        BOOST_TEST(static_cast<int>(frames[0].type) == static_cast<int>(FrameType::hello));
        BOOST_TEST(frames[0].payload == R"({"rank":3})");
        BOOST_TEST(frames[1].payload.empty());
        BOOST_TEST(frames[2].payload.size() == 70000u);
        BOOST_TEST(static_cast<int>(frames[3].type) == static_cast<int>(FrameType::exit));
    }
}

BOOST_AUTO_TEST_CASE(a_stream_that_is_not_frames_is_refused) {
    FrameReader reader;
    std::string error;
    reader.append("GET / HTTP/1.1\r\n", 16);
    BOOST_TEST(!reader.next(&error));
    BOOST_TEST(!error.empty());
    FrameReader huge;
    std::string header = encode_frame(FrameType::out, "").substr(0, 1) + std::string("\xff\xff\xff\x7f", 4);
    huge.append(header.data(), header.size());
    error.clear();
    BOOST_TEST(!huge.next(&error));
    BOOST_TEST(!error.empty());
}

BOOST_AUTO_TEST_CASE(secrets_compare_whole) {
    std::string secret = random_secret();
    BOOST_TEST(secret.size() == 64u);
    BOOST_TEST(secret != random_secret());
    BOOST_TEST(secrets_equal(secret, secret));
    BOOST_TEST(!secrets_equal(secret, secret.substr(0, 63)));
    BOOST_TEST(!secrets_equal(secret, ""));
    std::string other = secret;
    other[63] = other[63] == 'a' ? 'b' : 'a';
    BOOST_TEST(!secrets_equal(secret, other));
}

BOOST_AUTO_TEST_CASE(error_file_as_torch_writes_it) {
    // torch 1.13's ErrorHandler.record_exception.
    json file = {{"message",
                  {{"message", "ValueError: bad: input"},
                   {"extraInfo", {{"py_callstack", "Traceback (most recent call last):\n  ...\nValueError: bad: input\n"},
                                  {"timestamp", "1700000000"}}}}}};
    auto error = parse_error_file(file.dump());
    BOOST_REQUIRE(error);
    BOOST_TEST((*error)["type"] == "ValueError");
    BOOST_TEST((*error)["message"] == "bad: input");
    BOOST_TEST((*error)["traceback"].get<std::string>().rfind("Traceback", 0) == 0);
    BOOST_TEST((*error)["timestamp"] == 1700000000);
    // A newer format's plain message; a message without a type.
    auto plain = parse_error_file(R"({"message": "RuntimeError: NCCL timeout"})");
    BOOST_REQUIRE(plain);
    BOOST_TEST((*plain)["type"] == "RuntimeError");
    auto untyped = parse_error_file(R"({"message": "the worker group failed to start"})");
    BOOST_REQUIRE(untyped);
    BOOST_TEST((*untyped)["type"] == "");
    BOOST_TEST((*untyped)["message"] == "the worker group failed to start");
    BOOST_TEST(!parse_error_file(""));
    BOOST_TEST(!parse_error_file("not json"));
    BOOST_TEST(!parse_error_file(R"({"other": 1})"));
}

BOOST_AUTO_TEST_CASE(visible_devices_limit_the_inventory) {
    GpuInventory nvml;
    nvml.source = "nvml";
    for (int i = 0; i < 4; ++i) nvml.gpus.push_back({i, std::to_string(i), "GPU", "GPU-abc" + std::to_string(i), 0});
    GpuInventory two = limit_to_visible(nvml, "2,3");
    BOOST_REQUIRE_EQUAL(two.gpus.size(), 2u);
    BOOST_TEST(two.gpus[0].index == 0);  // `gpus = [0]` names the first visible one
    BOOST_TEST(two.gpus[0].device == "2");
    BOOST_TEST(two.devices({1}) == std::vector<std::string>{"3"});
    // UUIDs and their prefixes, handed on as written.
    GpuInventory uuid = limit_to_visible(nvml, "GPU-abc1");
    BOOST_REQUIRE_EQUAL(uuid.gpus.size(), 1u);
    BOOST_TEST(uuid.gpus[0].device == "GPU-abc1");
    BOOST_TEST(uuid.gpus[0].uuid == "GPU-abc1");
    // CUDA stops at the first entry that names no GPU; "" and "-1" hide them all.
    BOOST_TEST(limit_to_visible(nvml, "1,7,2").gpus.size() == 1u);
    // A MIG instance is not in NVML's device list (its parent GPU is): handed on as written.
    GpuInventory mig = limit_to_visible(nvml, "MIG-4f1c,0");
    BOOST_REQUIRE_EQUAL(mig.gpus.size(), 2u);
    BOOST_TEST(mig.gpus[0].device == "MIG-4f1c");
    BOOST_TEST(mig.gpus[1].device == "0");
    BOOST_TEST(limit_to_visible(nvml, "").gpus.empty());
    BOOST_TEST(limit_to_visible(nvml, "-1").gpus.empty());
    // Without NVML the caller's list is taken as it is, never emptied.
    GpuInventory none;
    none.source = "none: no NVIDIA driver";
    GpuInventory taken = limit_to_visible(none, "0,1");
    BOOST_REQUIRE_EQUAL(taken.gpus.size(), 2u);
    BOOST_TEST(taken.devices({0, 1}) == (std::vector<std::string>{"0", "1"}));
    BOOST_TEST(limit_to_visible(none, "MIG-1234").gpus.size() == 1u);
}

BOOST_AUTO_TEST_CASE(environment_precedence) {
    AttemptContext attempt;
    attempt.run_id = "run";
    attempt.step = "train";
    attempt.master_port = 29500;
    attempt.attempt_logs = "/logs/attempt-0";
    attempt.gpus = {"3"};
    std::map<std::string, std::string> caller = {{"RANK", "7"}, {"MASTER_ADDR", "10.0.0.1"}, {"HOME", "/root"},
                                                 {"AMLFLOW_STEP", "outer"}, {"OMPI_COMM_WORLD_RANK", "3"},
                                                 {"PMIX_RANK", "3"}, {"OMPI_MCA_btl", "tcp,self"},
                                                 {"AMLFLOW_RUN_MARK", "1-abc"}};
    std::map<std::string, std::string> file = {{"OMP_NUM_THREADS", "4"}, {"CUDA_VISIBLE_DEVICES", "0"},
                                               {"WORLD_SIZE", "99"}, {"MINE", "yes"}};
    EnvironmentBuilder builder(caller, file, {{"AMLFLOW_INPUT_DATA", "/data"}});
    auto env = builder.for_rank(attempt, RankIdentity{1, 1, 0, 1, 2, true});
    BOOST_TEST(env["RANK"] == "1");
    BOOST_TEST(env["WORLD_SIZE"] == "2");
    BOOST_TEST(env["MASTER_ADDR"] == "127.0.0.1");
    BOOST_TEST(env["OMP_NUM_THREADS"] == "4");
    BOOST_TEST(env["CUDA_VISIBLE_DEVICES"] == "0");
    BOOST_TEST(env["MINE"] == "yes");
    BOOST_TEST(env["HOME"] == "/root");
    BOOST_TEST(!env.count("OMPI_COMM_WORLD_RANK"));  // the caller's own MPI identity stays out
    BOOST_TEST(!env.count("PMIX_RANK"));
    BOOST_TEST(env["OMPI_MCA_btl"] == "tcp,self");   // Open MPI settings pass
    BOOST_TEST(env["AMLFLOW_RUN_MARK"] == "1-abc");  // the reaper's mark passes
    BOOST_TEST(env["AMLFLOW_STEP"] == "train");
    BOOST_TEST(env["AMLFLOW_INPUT_DATA"] == "/data");
    BOOST_TEST(env["TORCHELASTIC_ERROR_FILE"] == "/logs/attempt-0/rank-1.error.json");
    auto plain = EnvironmentBuilder(caller, {}).for_rank(attempt, RankIdentity{0, 0, 0, 1, 1, false});
    BOOST_TEST(!plain.count("RANK"));
    BOOST_TEST(!plain.count("MASTER_ADDR"));
    BOOST_TEST(!plain.count("OMP_NUM_THREADS"));
    BOOST_TEST(plain["CUDA_VISIBLE_DEVICES"] == "3");
    BOOST_TEST(plain["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID");  // numbered by NVML, not by a caller
    // Two nodes of two ranks on this machine, four GPUs: each node sees its own two.
    attempt.gpus = {"0", "1", "2", "3"};
    auto node1 = EnvironmentBuilder(caller, {}).for_rank(attempt, RankIdentity{3, 1, 1, 2, 2, true});
    BOOST_TEST(node1["CUDA_VISIBLE_DEVICES"] == "2,3");
    auto node0 = EnvironmentBuilder(caller, {}).for_rank(attempt, RankIdentity{1, 1, 0, 2, 2, true});
    BOOST_TEST(node0["CUDA_VISIBLE_DEVICES"] == "0,1");
    attempt.gpus = {"0", "1"};  // fewer than the nodes need: every rank sees them all
    auto shared = EnvironmentBuilder(caller, {}).for_rank(attempt, RankIdentity{3, 1, 1, 2, 2, true});
    BOOST_TEST(shared["CUDA_VISIBLE_DEVICES"] == "0,1");
    BOOST_TEST(amlflow::compiler::is_distribution_variable("MASTER_PORT"));
    BOOST_TEST(amlflow::compiler::is_distribution_variable("AMLFLOW_ANYTHING"));
    BOOST_TEST(!amlflow::compiler::is_distribution_variable("OMP_NUM_THREADS"));
    BOOST_TEST(!amlflow::compiler::is_distribution_variable("CUDA_VISIBLE_DEVICES"));
}

BOOST_AUTO_TEST_SUITE_END()
