// The hosts compute as the runtime reads it: slots, defaults, ssh options, quoting.
#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include "runtime/core/host_list.h"

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
    BOOST_CHECK(!hosts_compute_from(json{{"hosts", json::array()}}, &error));
    BOOST_CHECK(!hosts_compute_from(json{{"hosts", {"a"}}, {"workdir", "scratch"}}, &error));
    BOOST_CHECK_NE(error.find("absolute"), std::string::npos);
    BOOST_CHECK(!hosts_compute_from(json{{"hosts", {"a"}}, {"shared_fs", false}}, &error));
    BOOST_CHECK_NE(error.find("workdir"), std::string::npos);
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
