// The hosts compute as the runtime reads it: slots, defaults, ssh options, quoting.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "compiler/host_entry.h"
#include "runtime/core/host_list.h"
#include "runtime/core/local_network.h"
#include "runtime/hosts/local_address.h"

using namespace amlflow::runtime;
using nlohmann::json;

BOOST_AUTO_TEST_SUITE(host_list)

BOOST_AUTO_TEST_CASE(hosts_take_their_slots_or_the_default) {
    std::string error;
    auto compute = hosts_compute_from(json{{"$kind", "hosts"}, {"hosts", {"node1:4", "10.0.0.2", "[fe80::1]:2"}}, {"slots", 3}}, &error);
    BOOST_REQUIRE_MESSAGE(compute, error);
    BOOST_REQUIRE_EQUAL(compute->hosts.size(), 3u);
    BOOST_CHECK_EQUAL(compute->hosts[0].name, "node1");
    BOOST_CHECK_EQUAL(compute->hosts[0].slots, 4);
    BOOST_CHECK_EQUAL(compute->hosts[1].name, "10.0.0.2");
    BOOST_CHECK_EQUAL(compute->hosts[1].slots, 3);
    BOOST_CHECK_EQUAL(compute->hosts[2].name, "fe80::1");
    BOOST_CHECK_EQUAL(compute->hosts[2].slots, 2);
    BOOST_CHECK(compute->shared_fs);
    BOOST_CHECK_EQUAL(compute->ssh_port, 22);
}

BOOST_AUTO_TEST_CASE(bad_hosts_and_workdirs_are_refused) {
    std::string error;
    BOOST_CHECK(!hosts_compute_from(json{{"hosts", {"node1:x"}}}, &error));
    BOOST_CHECK_NE(error.find("node1:x"), std::string::npos);
    // The checker's reading (compiler/host_entry.h), word for word: what `check` refuses, a
    // hand-written plan cannot slip past.
    for (const char* entry : {"node1:x", "fe80::1", "[fe80::1", "node 1:2", ":4"}) {
        amlflow::compiler::HostEntry parsed;
        std::string checker = amlflow::compiler::parse_host_entry(entry, 1, parsed).message;
        BOOST_TEST_CONTEXT(entry) {
            BOOST_CHECK(!checker.empty());
            BOOST_CHECK(!hosts_compute_from(json{{"hosts", {entry}}}, &error));
            BOOST_CHECK_EQUAL(error, checker);
        }
    }
    BOOST_CHECK(!hosts_compute_from(json{{"hosts", json::array()}}, &error));
    BOOST_CHECK(!hosts_compute_from(json{{"hosts", {"a"}}, {"workdir", "scratch"}}, &error));
    BOOST_CHECK_NE(error.find("absolute"), std::string::npos);
    BOOST_CHECK(!hosts_compute_from(json{{"hosts", {"a"}}, {"shared_fs", false}}, &error));
    BOOST_CHECK_NE(error.find("workdir"), std::string::npos);
}

// This machine's networks (core/local_network.h), where both the supervisor's address and
// each shim's NIC come from: loopback is in 127.0.0.0/8 on every Linux machine.
BOOST_AUTO_TEST_CASE(a_cidr_or_a_name_finds_a_nic_of_this_machine) {
    auto loopback = local_nic_in("127.0.0.0/8");
    BOOST_REQUIRE(loopback);
    auto named = local_nic_named(loopback->name);
    BOOST_REQUIRE(named);
    BOOST_CHECK_EQUAL(ipv4_text(named->network.address).rfind("127.", 0), 0u);
    BOOST_CHECK_EQUAL(prefix_length(named->network.mask), 8);
    BOOST_CHECK(!local_nic_in("127.0.0.0/33"));
    BOOST_CHECK(!local_nic_in(loopback->name));  // a name is not a CIDR
    BOOST_CHECK(!parse_cidr("300.0.0.0/8"));
    BOOST_CHECK(!local_nic_named("no-such-nic0"));
    // The compute's `interface` as the supervisor and Open MPI read it.
    HostsCompute compute;
    compute.hosts = {{"node1", 1}};
    compute.interface = "127.0.0.0/8";
    std::string error;
    BOOST_CHECK_EQUAL(supervisor_address(compute, "", &error).rfind("127.", 0), 0u);
    compute.interface = "10.1.2.3/24";
    BOOST_CHECK_EQUAL(network_of(compute), "10.1.2.0/24");
    compute.interface = loopback->name;
    BOOST_CHECK_EQUAL(network_of(compute), "127.0.0.0/8");
}

BOOST_AUTO_TEST_CASE(ssh_options_carry_config_port_key_and_user) {
    setenv("HOME", "/home/alice", 1);
    std::string error;
    auto compute = hosts_compute_from(json{{"hosts", {"a"}}, {"ssh_port", 2222}, {"identity_file", "~/.ssh/id"},
                                           {"ssh_config", "/etc/cfg"}, {"user", "alice"}}, &error);
    BOOST_REQUIRE(compute);
    BOOST_CHECK_EQUAL(compute->identity_file, "/home/alice/.ssh/id");
    auto argv = ssh_command(*compute, "a", "echo hi");
    std::string joined;
    for (auto& word : argv) joined += word + " ";
    BOOST_CHECK_NE(joined.find("-F /etc/cfg -p 2222 -i /home/alice/.ssh/id -l alice"), std::string::npos);
    BOOST_CHECK_NE(joined.find("BatchMode=yes"), std::string::npos);
    BOOST_CHECK_EQUAL(argv.back(), "echo hi");
    BOOST_CHECK_EQUAL(argv[argv.size() - 3], "a");
}

// The shared connections' folder: a folder of ours that others may only read is closed and
// used (refusing it silently cost every ssh a key exchange); one others may write is refused.
BOOST_AUTO_TEST_CASE(the_control_folder_is_ours_alone) {
    namespace fs = std::filesystem;
    char scratch_template[] = "/tmp/amlflow-test-folder.XXXXXX";
    fs::path scratch = mkdtemp(scratch_template);
    auto mode = [](const fs::path& path) { return static_cast<int>(fs::status(path).permissions() & fs::perms::all); };

    fs::path fresh = scratch / "fresh";
    BOOST_CHECK_EQUAL(private_folder(fresh), fresh.string());
    BOOST_CHECK_EQUAL(mode(fresh), 0700);

    fs::path readable = scratch / "readable";
    fs::create_directory(readable);
    fs::permissions(readable, static_cast<fs::perms>(0755));
    BOOST_CHECK_EQUAL(private_folder(readable), readable.string());
    BOOST_CHECK_EQUAL(mode(readable), 0700);

    fs::path writable = scratch / "writable";
    fs::create_directory(writable);
    fs::permissions(writable, static_cast<fs::perms>(0777));
    BOOST_CHECK_EQUAL(private_folder(writable), "");
    BOOST_CHECK_EQUAL(mode(writable), 0777);

    fs::path file = scratch / "file", link = scratch / "link";
    std::ofstream(file) << "x";
    fs::create_directory_symlink(fresh, link);
    BOOST_CHECK_EQUAL(private_folder(file), "");
    BOOST_CHECK_EQUAL(private_folder(link), "");
    fs::remove_all(scratch);
}

BOOST_AUTO_TEST_CASE(home_expansion_leaves_other_paths) {
    setenv("HOME", "/root", 1);
    BOOST_CHECK_EQUAL(expand_home("~"), "/root");
    BOOST_CHECK_EQUAL(expand_home("~/x"), "/root/x");
    BOOST_CHECK_EQUAL(expand_home("~bob/x"), "~bob/x");
    BOOST_CHECK_EQUAL(expand_home("/a/~"), "/a/~");
}

BOOST_AUTO_TEST_CASE(shell_quoting_survives_a_shell) {
    BOOST_CHECK_EQUAL(shell_quote("plain/path-1.txt"), "plain/path-1.txt");
    BOOST_CHECK_EQUAL(shell_quote("it's"), "'it'\\''s'");
    BOOST_CHECK_EQUAL(shell_quote(""), "''");
    BOOST_CHECK_EQUAL(shell_join({"echo", "a b", "$HOME"}), "echo 'a b' '$HOME'");
    BOOST_CHECK(is_cidr("10.0.0.0/24"));
    BOOST_CHECK(!is_cidr("eth0"));
}

BOOST_AUTO_TEST_SUITE_END()

#include "runtime/exec/host_slots.h"
#include "runtime/hosts/hosts_launch.h"
#include "runtime/hosts/hosts_ranks.h"

BOOST_AUTO_TEST_SUITE(hosts_placement)

BOOST_AUTO_TEST_CASE(mpirun_places_p_ranks_on_each_of_the_first_n_hosts) {
    std::string error;
    auto compute = hosts_compute_from(json{{"hosts", {"a:4", "b:4", "c:4"}}, {"ssh_config", "/cfg"}}, &error);
    BOOST_REQUIRE(compute);
    HostsLaunchShape shape{2, 3, "/bin/amlflow-rank", "train", "10.0.0.0/24"};
    auto argv = hosts_mpirun_argv(*compute, shape);
    std::string joined;
    for (auto& word : argv) joined += word + "|";
    BOOST_CHECK_NE(joined.find("--host|a:3,b:3|-np|6|--map-by|ppr:3:node|"), std::string::npos);
    BOOST_CHECK_NE(joined.find("plm_rsh_args|-F /cfg -o BatchMode=yes"), std::string::npos);
    BOOST_CHECK_NE(joined.find("oob_tcp_if_include|10.0.0.0/24|"), std::string::npos);
    BOOST_CHECK_EQUAL(argv[argv.size() - 2], "/bin/amlflow-rank");
    BOOST_CHECK(joined.find("c:") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(each_host_gets_the_gpus_the_compute_grants_there) {
    std::vector<std::vector<int>> found = {{0, 1, 2, 3}, {}, {0, 1}};
    auto all = gpus_by_host("all", found, false);
    BOOST_REQUIRE_EQUAL(all.size(), 3u);
    BOOST_CHECK_EQUAL(*all[0], "0,1,2,3");
    BOOST_CHECK(!all[1]);  // no GPU there: the host's own environment decides
    BOOST_CHECK_EQUAL(*all[2], "0,1");
    auto two = gpus_by_host(2, found, false);
    BOOST_CHECK_EQUAL(*two[0], "0,1");
    auto listed = gpus_by_host(json{1, 3}, found, false);
    BOOST_CHECK_EQUAL(*listed[0], "1,3");
    BOOST_CHECK_EQUAL(*listed[2], "1");
    auto none = gpus_by_host("none", found, false);
    BOOST_CHECK_EQUAL(*none[0], "");
    auto file = gpus_by_host("all", found, true);
    BOOST_CHECK(!file[0] && !file[2]);
    // Two trials on one host: each its slots' GPUs.
    auto first = gpus_by_host("all", found, false, {{0, 1}, {}, {0}});
    BOOST_CHECK_EQUAL(*first[0], "0,1");
    BOOST_CHECK_EQUAL(*first[2], "0");
    auto second = gpus_by_host("all", found, false, {{2, 3}, {}, {1}});
    BOOST_CHECK_EQUAL(*second[0], "2,3");
    BOOST_CHECK_EQUAL(*second[2], "1");
    auto more_slots_than_gpus = gpus_by_host("all", found, false, {{}, {}, {2, 3}});
    BOOST_CHECK_EQUAL(*more_slots_than_gpus[2], "0,1");  // shared, as without slots
}

BOOST_AUTO_TEST_CASE(trials_share_the_hosts_slots) {
    HostSlots slots;
    json compute = {{"$kind", "hosts"}, {"hosts", {"a:2", "b:2"}}};
    BOOST_CHECK(slots.available("c", compute, 1, 2));
    auto first = slots.take("c", compute, 1, 1);
    BOOST_REQUIRE_EQUAL(first.size(), 1u);
    BOOST_CHECK_EQUAL(first[0].host, 0u);
    auto beside = slots.take("c", compute, 1, 1);  // the same host's other slot
    BOOST_REQUIRE_EQUAL(beside.size(), 1u);
    BOOST_CHECK_EQUAL(beside[0].host, 0u);
    BOOST_CHECK_EQUAL(beside[0].slots.at(0), 1);
    auto second = slots.take("c", compute, 1, 2);
    BOOST_REQUIRE_EQUAL(second.size(), 1u);
    BOOST_CHECK_EQUAL(second[0].host, 1u);  // the next host with room
    BOOST_CHECK(!slots.available("c", compute, 1, 1));  // all taken: wait
    json placed = HostSlots::placed(compute, second, 2);
    BOOST_CHECK_EQUAL(placed["hosts"].dump(), "[\"b:2\"]");
    BOOST_CHECK_EQUAL(placed["$slots"].dump(), "[[0,1]]");
    slots.release("c", first);
    BOOST_CHECK(slots.available("c", compute, 1, 1));
    BOOST_CHECK(!slots.available("c", compute, 1, 2));
    slots.release("c", beside);
    BOOST_CHECK(slots.available("c", compute, 1, 2));
    // Larger than the compute: waits for it to be idle, then runs alone on the whole list.
    BOOST_CHECK(!slots.available("c", compute, 3, 1));
    slots.release("c", second);
    BOOST_CHECK(slots.available("c", compute, 3, 1));
    BOOST_CHECK(slots.take("c", compute, 3, 1).empty());
}

BOOST_AUTO_TEST_SUITE_END()
