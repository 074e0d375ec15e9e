// Blob storage against the real Azurite (tests/azureml_emulator/node_modules; the suite is
// skipped without it): a folder up and down again, large files in blocks, an upload that
// resumes without sending again what arrived, a growing blob read from an offset, Shared Key
// signing of every call.
#include <boost/test/unit_test.hpp>

#include <fstream>

#include <fcntl.h>
#include <random>

#include "runtime/azureml/blob_storage.h"
#include "azureml_test_support.h"
#include "test_support.h"

namespace az = amlflow::runtime::azureml;
namespace fs = std::filesystem;
using amlflow::runtime::EventLoop;

namespace {

const char* kDevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

std::string azurite_program() {
    return std::string(AMLFLOW_SOURCE_DIR) + "/tests/azureml_emulator/node_modules/.bin/azurite-blob";
}

// Azurite on a free loopback port, in memory, for this test process.
class Azurite {
public:
    Azurite() {
        // Its output goes to a file: a pipe that closes would kill it with EPIPE.
        log_ = fs::temp_directory_path() / ("amlflow-azurite-" + std::to_string(getpid()) + ".log");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        std::string program = azurite_program();
        std::vector<std::string> args = {program, "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
                                         "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"};
        std::vector<char*> argv;
        for (std::string& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        int rc = posix_spawn(&pid_, program.c_str(), &actions, &attr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (rc != 0) throw std::runtime_error("cannot start azurite");
        for (int i = 0; i < 300 && port_ == 0; ++i) {
            std::ifstream in(log_);
            std::string text((std::istreambuf_iterator<char>(in)), {});
            size_t at = text.find("http://127.0.0.1:");
            if (at != std::string::npos) port_ = std::atoi(text.c_str() + at + 17);
            else usleep(100 * 1000);
        }
        if (port_ == 0) throw std::runtime_error("azurite printed no address");
    }
    ~Azurite() {
        kill(-pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
        std::error_code ignored;
        fs::remove(log_, ignored);
    }
    std::string account_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/devstoreaccount1"; }

private:
    pid_t pid_ = -1;
    int port_ = 0;
    fs::path log_;
};

struct available {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result result(fs::exists(azurite_program()));
        result.message() << "no Azurite: run scripts/install-node-deps.sh";
        return result;
    }
};

struct BlobFixture {
    Azurite azurite;
    EventLoop loop;
    az::HttpClient http{loop};
    az::RetryingClient client{http};
    amlflow::testing::TempProject box;

    az::BlobContainer container(const std::string& name, const std::string& prefix = "") {
        az::BlobContainer c;
        c.account_url = azurite.account_url();
        c.account = "devstoreaccount1";
        c.container = name;
        c.prefix = prefix;
        c.key = kDevKey;
        az::HttpRequest create;
        create.method = "PUT";
        create.url = c.container_url("restype=container");
        az::authorize_blob_request(c, create);
        auto answer = amlflow::testing::run_retrying(loop, client, create, {});
        BOOST_TEST_REQUIRE((answer.status == 201 || answer.status == 409), az::storage_error(create, answer));
        return c;
    }
    az::TransferOutcome wait(const std::function<void(az::BlobStorage::Done)>& start) {
        std::optional<az::TransferOutcome> got;
        start([&](az::TransferOutcome outcome) { got = outcome; });
        loop.run_until([&] { return got.has_value(); });
        return *got;
    }
    std::string random_bytes(size_t size) {
        std::mt19937 random(static_cast<unsigned>(size));
        std::string out(size, '\0');
        for (char& c : out) c = static_cast<char>(random());
        return out;
    }
};

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

az::BlobOptions small_blocks() {
    az::BlobOptions options;
    options.parallel = 4;
    options.single_put_max = 64 * 1024;
    options.block_size = 16 * 1024;
    return options;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_blob, *boost::unit_test::precondition(available()))

BOOST_FIXTURE_TEST_CASE(folder_up_and_down_with_blocks, BlobFixture) {
    box.write("src/train.py", "print('hi')\n");
    box.write("src/data/a b.txt", "x\n");
    box.write("src/empty.txt", "");
    std::string big = random_bytes(100 * 1024 + 7);  // 7 blocks, the last one short
    box.write("src/model.bin", big);
    std::vector<az::UploadItem> files;
    for (const char* name : {"train.py", "data/a b.txt", "empty.txt", "model.bin"}) {
        files.push_back({box.root() / "src" / name, name});
    }
    az::BlobStorage storage(client, container("code", "LocalUpload/abc/src"), small_blocks());
    auto up = wait([&](auto done) { storage.upload(files, done); });
    BOOST_TEST_REQUIRE(up.ok, up.error);
    BOOST_TEST(up.files_sent == 4);
    BOOST_TEST(up.bytes_sent == big.size() + 12 + 2);

    auto down = wait([&](auto done) { storage.download("LocalUpload/abc/src", box.root() / "back", done); });
    BOOST_TEST_REQUIRE(down.ok, down.error);
    BOOST_TEST(down.files_sent == 4);
    BOOST_TEST(read_file(box.root() / "back/model.bin") == big);
    BOOST_TEST(read_file(box.root() / "back/data/a b.txt") == "x\n");
    BOOST_TEST(fs::exists(box.root() / "back/empty.txt"));
}

BOOST_FIXTURE_TEST_CASE(cut_off_upload_resumes_without_resending, BlobFixture) {
    box.write("src/one.py", "1\n");
    box.write("src/two.py", "22\n");
    std::string big = random_bytes(80 * 1024);  // 5 blocks of 16 KiB
    box.write("src/big.bin", big);
    az::BlobContainer c = container("resume", "up");
    az::BlobStorage storage(client, c, small_blocks());
    // The first try got one small file and two blocks of the big one across, then stopped.
    auto first = wait([&](auto done) { storage.upload({{box.root() / "src/one.py", "one.py"}}, done); });
    BOOST_TEST_REQUIRE(first.ok, first.error);
    az::BlobOptions options = small_blocks();
    for (int block : {0, 3}) {
        az::HttpRequest put;
        put.method = "PUT";
        put.url = c.blob_url("up/big.bin", "comp=block&blockid=" + az::percent_encode(az::base64_encode(
                                                                    "blk0000000" + std::to_string(block))));
        put.headers = {{"Content-Type", "application/octet-stream"}};
        put.body = big.substr(block * options.block_size, options.block_size);
        az::authorize_blob_request(c, put);
        auto answer = amlflow::testing::run_retrying(loop, client, put, {});
        BOOST_TEST_REQUIRE(answer.status == 201, az::storage_error(put, answer));
    }
    std::vector<az::UploadItem> all = {{box.root() / "src/one.py", "one.py"},
                                       {box.root() / "src/two.py", "two.py"},
                                       {box.root() / "src/big.bin", "big.bin"}};
    auto second = wait([&](auto done) { storage.upload(all, done); });
    BOOST_TEST_REQUIRE(second.ok, second.error);
    BOOST_TEST(second.files_skipped == 1);
    BOOST_TEST(second.files_sent == 2);
    BOOST_TEST(second.bytes_sent == 3 + big.size() - 2 * options.block_size);
    auto down = wait([&](auto done) { storage.download("up", box.root() / "back", done); });
    BOOST_TEST_REQUIRE(down.ok, down.error);
    BOOST_TEST(read_file(box.root() / "back/big.bin") == big);
    // A third upload of the same files sends nothing.
    auto third = wait([&](auto done) { storage.upload(all, done); });
    BOOST_TEST(third.files_skipped == 3);
    BOOST_TEST(third.bytes_sent == 0u);
}

// A download cut off half way (amlflow killed, a connection broken) left the blob's first
// bytes in its partial file: the next download asks only for the rest. A partial file of a
// blob that changed since (another ETag) is dropped, never glued to the new bytes.
BOOST_FIXTURE_TEST_CASE(cut_off_download_resumes_from_its_partial_file, BlobFixture) {
    std::string big = random_bytes(300 * 1024 + 5);
    box.write("src/big.bin", big);
    box.write("src/small.txt", "small\n");
    az::BlobStorage storage(client, container("down", "out"), small_blocks());
    auto up = wait([&](auto done) {
        storage.upload({{box.root() / "src/big.bin", "big.bin"}, {box.root() / "src/small.txt", "small.txt"}}, done);
    });
    BOOST_TEST_REQUIRE(up.ok, up.error);
    std::optional<std::optional<std::vector<az::BlobEntry>>> listed;
    storage.list("out", [&](std::optional<std::vector<az::BlobEntry>> entries, std::string) { listed = entries; });
    loop.run_until([&] { return listed.has_value(); });
    BOOST_REQUIRE(listed->has_value());
    std::map<std::string, std::string> etags;
    for (const az::BlobEntry& entry : **listed) etags[entry.name] = entry.etag;
    BOOST_TEST_REQUIRE(!etags["out/big.bin"].empty());
    fs::path back = box.root() / "back";
    fs::create_directories(back);
    const size_t half = 120 * 1024;
    box.write("back/" + az::partial_download_path("big.bin", etags["out/big.bin"]).string(), big.substr(0, half));
    box.write("back/" + az::partial_download_path("small.txt", "0x8DOLDERETAG").string(), "stale bytes of another version");

    auto down = wait([&](auto done) { storage.download("out", back, done); });
    BOOST_TEST_REQUIRE(down.ok, down.error);
    BOOST_TEST(down.files_sent == 2);
    BOOST_TEST(down.bytes_resumed == half);
    BOOST_TEST(down.bytes_received == big.size() - half + 6);
    BOOST_TEST(read_file(back / "big.bin") == big);
    BOOST_TEST(read_file(back / "small.txt") == "small\n");
    for (const auto& entry : fs::directory_iterator(back)) {
        BOOST_TEST(entry.path().filename().string().find(".amlflow-part-") == std::string::npos, entry.path());
    }

    // fetch: one blob into a file, a folder of blobs into a folder, nothing into an error.
    auto one = wait([&](auto done) { storage.fetch("out/big.bin", box.root() / "one/model.bin", done); });
    BOOST_TEST_REQUIRE(one.ok, one.error);
    BOOST_TEST(read_file(box.root() / "one/model.bin") == big);
    auto all = wait([&](auto done) { storage.fetch("out", box.root() / "all", done); });
    BOOST_TEST_REQUIRE(all.ok, all.error);
    BOOST_TEST(all.files_sent == 2);
    BOOST_TEST(read_file(box.root() / "all/small.txt") == "small\n");
    auto none = wait([&](auto done) { storage.fetch("out/big", box.root() / "none", done); });
    BOOST_TEST(!none.ok);
    BOOST_TEST(none.error.find("nothing is stored at 'down/out/big'") != std::string::npos, none.error);
}

BOOST_FIXTURE_TEST_CASE(growing_blob_read_from_an_offset, BlobFixture) {
    az::BlobContainer c = container("logs");
    auto append = [&](const std::string& query, const std::string& body, const az::Headers& headers) {
        az::HttpRequest put;
        put.method = "PUT";
        put.url = c.blob_url("user_logs/std_log_process_0.txt", query);
        put.headers = headers;
        put.body = body;
        az::authorize_blob_request(c, put);
        auto answer = amlflow::testing::run_retrying(loop, client, put, {});
        BOOST_TEST_REQUIRE(answer.ok(), az::storage_error(put, answer));
    };
    append("", "", {{"x-ms-blob-type", "AppendBlob"}});
    append("comp=appendblock", "line 1\n", {{"Content-Type", "text/plain"}});
    az::BlobStorage storage(client, c);
    auto read = [&](std::uint64_t offset) {
        std::optional<az::RangeRead> got;
        storage.read_range("user_logs/std_log_process_0.txt", offset, [&](az::RangeRead r) { got = r; });
        loop.run_until([&] { return got.has_value(); });
        BOOST_TEST_REQUIRE(got->ok, got->error);
        return got->bytes;
    };
    BOOST_TEST(read(0) == "line 1\n");
    BOOST_TEST(read(7) == "");
    append("comp=appendblock", "line 2\n", {{"Content-Type", "text/plain"}});
    BOOST_TEST(read(7) == "line 2\n");
}

BOOST_FIXTURE_TEST_CASE(sas_urls_of_both_styles_are_read, BlobFixture) {
    std::string error;
    auto path_style = az::container_from_sas_url("http://127.0.0.1:1/devstoreaccount1/c/LocalUpload/x?sv=1&sig=a", &error);
    BOOST_TEST_REQUIRE(path_style.has_value(), error);
    BOOST_TEST(path_style->account == "devstoreaccount1");
    BOOST_TEST(path_style->container == "c");
    BOOST_TEST(path_style->prefix == "LocalUpload/x");
    BOOST_TEST(path_style->blob_url("LocalUpload/x/a b") == "http://127.0.0.1:1/devstoreaccount1/c/LocalUpload/x/a%20b?sv=1&sig=a");
    auto host_style = az::container_from_sas_url("https://acct.blob.core.windows.net/c/p?sig=b", &error);
    BOOST_TEST_REQUIRE(host_style.has_value(), error);
    BOOST_TEST(host_style->account == "acct");
    BOOST_TEST(host_style->account_url == "https://acct.blob.core.windows.net");
    BOOST_TEST(!az::container_from_sas_url("https://acct.blob.core.windows.net/?sig=b", &error).has_value());
    BOOST_TEST(error.find("sig") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
