// Where a `hosts` job's files live on the hosts, and the command lines that put them there
// (host_staging.h runs them). Pure, apart from hashing local files, so the layout the
// backend hands to the ranks and the rsync and ssh lines are unit-tested without a host.
//
// Under the compute's `workdir`:
//   cache/<sha256>/           a staged folder (the source snapshot, amlflow's Python helper,
//                             an input folder), or the folder of a staged file (the shim,
//                             an input file, under its own name)
//   cache/<sha256>.done       written after the copy succeeded: a host with it already has
//                             that content, and a copy cut off half-way has none, so it is
//                             sent again (rsync --delete then mends what is there)
//   <run>/<step>/attempt-<k>/{outputs,logs,metrics}   the attempt's folders, k as the run
//                             store counts attempts (attempt-1 first)
//   <run>/<step>/attempt-<k>/work   the ranks' working directory: the cached snapshot's
//                             files as hard links, with outputs and logs leading to the
//                             attempt's (a script's ./outputs never lands in the cache)
//   <run>/<step>/checkpoints  kept across attempts
// The hash: a folder's or file's content digest (core/artifacts' content_digest: sha256
// over the bytes) for the snapshot, the helper and the shim, which are small and, for the
// snapshot, freshly copied (new mtimes) on every run; for inputs, which may be data sets of
// any size, the sha256 of input_fingerprint(): relative paths, sizes and modification times
// (Nextflow's default), so a changed mtime sends an input again but its bytes are not read.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/host_list.h"

namespace amlflow::runtime {

// Whether and how a job's files travel: not at all (the hosts share the run store's folder),
// once into the shared `workdir` (seen by every host, so a local copy is enough), or to
// each host over ssh (shared_fs = false).
enum class StagingMode { none, local_copy, per_host };
StagingMode staging_mode(const HostsCompute& compute, const std::string& run_store_folder);

struct StagingRequest {
    std::string run_id;
    std::string step;
    int attempt = 1;                     // the folder attempt-<attempt>
    std::string snapshot;                // the attempt's source snapshot folder
    std::string helper;                  // amlflow's Python helper folder (stdlib/python)
    std::string shim;                    // the amlflow-rank executable
    std::vector<std::string> inputs;     // input folders or files (another step's outputs, ...)
};

struct StagedItem {
    std::string local;                   // as given
    std::string hash;                    // sha256 hex: names cache/<hash>
    bool file = false;                   // a file goes to cache/<hash>/<its name>
};

struct RemoteLayout {
    std::string workdir;
    std::string snapshot;                // the rank's working directory there
    std::string helper;                  // first on PYTHONPATH there
    std::string shim;                    // the shim's path there
    std::map<std::string, std::string> inputs;  // local path (as given) -> path there
    std::map<std::string, std::string> staged;  // every staged local path (normalised) -> there
    std::string attempt;                 // <workdir>/<run>/<step>/attempt-<k>
    std::string outputs, logs, metrics;  // in `attempt`
    std::string work;                    // in `attempt`: the ranks' working directory, the
                                         // snapshot's files (hard links) with ./outputs and
                                         // ./logs leading to the attempt's folders
    std::string checkpoints;             // <workdir>/<run>/<step>/checkpoints

    // The path there for a local path under any staged item (an input's sub-path, a file
    // in the snapshot), or "" when it lies under none.
    std::string remote_path(const std::string& local) const;
};

// Hashes the request's files (see above). nullopt with *error naming the path that cannot
// be read. Two items may share a hash (the same content twice); they are sent once.
std::optional<std::vector<StagedItem>> staged_items(const StagingRequest& request, std::string* error);

RemoteLayout remote_layout(const std::string& workdir, const StagingRequest& request,
                           const std::vector<StagedItem>& items);

// Runs `script` with sh on `host`, over ssh; on this machine when `host` is empty.
std::vector<std::string> target_command(const HostsCompute& compute, const std::string& host,
                                        const std::string& script);

// `rsync -a [--delete] -e "ssh <options>" <from> <to>`: `from`/`to` are a local path and a
// "host:path" (host empty: both local). A folder's contents are copied (a trailing '/').
std::vector<std::string> rsync_push(const HostsCompute& compute, const std::string& host, const std::string& from,
                                    bool folder, const std::string& to, bool mirror);
std::vector<std::string> rsync_pull(const HostsCompute& compute, const std::string& host, const std::string& from,
                                    const std::string& to, bool mirror);

// The script that makes the attempt's folders and prints `have=<hash>` for each hash of
// `items` whose .done marker is there.
std::string probe_script(const RemoteLayout& layout, const std::vector<StagedItem>& items);
// The script that writes the .done markers of `hashes` (after their copies succeeded).
std::string mark_script(const std::string& workdir, const std::vector<std::string>& hashes);
// The script that makes the attempt's working directory from the cached snapshot.
std::string work_script(const RemoteLayout& layout);
// The hashes a probe's output says the host has.
std::vector<std::string> hashes_present(const std::string& out);

}  // namespace amlflow::runtime
