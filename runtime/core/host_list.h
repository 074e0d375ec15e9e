// A `hosts` compute as the runtime uses it: the machines in rank order with their slots,
// how ssh reaches them, and where ranks keep their files there (DESIGN §5). Parsed once
// from the plan's compute node, with the language's defaults applied; pure, so `--dry-run`,
// the preflight checks, staging and the mpirun command line all read the same facts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

struct HostEntry {
    std::string name;  // as written: an address or a name ssh resolves (its config included)
    int slots = 1;
};

struct HostsCompute {
    std::string compute;                 // the declaration's name, for messages
    std::vector<HostEntry> hosts;        // in rank order
    std::string user;                    // empty: ssh's own config decides
    int ssh_port = 22;
    std::string identity_file;           // local paths, ~ already expanded
    std::string ssh_config;
    std::string interface;               // a NIC name or a CIDR; empty: Open MPI's choice
    std::string workdir;                 // absolute on each host; empty: the run store's folder
    bool shared_fs = true;
    std::string python;                  // overrides the environment's interpreter; empty: none
    nlohmann::json gpus = "all";         // as for local: all, none, a count or indexes
};

// nullopt with *error when the node is not a well-formed hosts compute (the checker
// refuses those first; this guards the runtime against a hand-written plan).
std::optional<HostsCompute> hosts_compute_from(const nlohmann::json& compute, std::string* error);

// "~" and "~/x" from $HOME (then the password database); other paths unchanged.
std::string expand_home(const std::string& path);

// The options every ssh (and rsync's ssh, and Open MPI's plm_rsh_args) gets: the user's
// config, port, key and login, never a password prompt, a keep-alive that notices a dead
// host within ~15 s, a bounded connect, and one shared connection per host.
std::vector<std::string> ssh_options(const HostsCompute& compute);

// Where the shared ssh connections' sockets live (/tmp/amlflow-ssh-<uid>, mode 0700);
// "" when it cannot be made safely (then every ssh connects on its own).
std::string ssh_control_folder();

// `path` as a folder of this user's that no one else can read or enter (made 0700, or
// closed to 0700 when others could only read it); "" when it cannot be made so.
std::string private_folder(const std::string& path);

// `ssh <options> <host> -- <remote>`: `remote` is one shell command line on the host
// (quote its words with shell_quote).
std::vector<std::string> ssh_command(const HostsCompute& compute, const std::string& host, const std::string& remote);

// One word for a POSIX shell: 'it'\''s' style quoting, bare when only safe characters.
std::string shell_quote(const std::string& word);

// The words as one command line for a POSIX shell.
std::string shell_join(const std::vector<std::string>& words);

// Whether `interface` is a CIDR ("10.0.0.0/24") rather than a NIC name.
bool is_cidr(const std::string& interface);

// How messages name a host: "host 'node2'", with " (10.0.0.12)" when the address is known
// and says more than the name.
std::string host_label(const std::string& host, const std::string& address);

}  // namespace amlflow::runtime
