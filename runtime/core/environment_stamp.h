// What an environment check's answer rests on, so that a later run can tell with stat
// alone, without starting Python (~65 ms for every job), that nothing it depends on
// changed. The question is the interpreter as the environment names it, its `pip` list
// and the variables Python reads at start-up; the answer ("all installed", and which
// interpreter the ranks run) rests on the interpreter's file and on the folders and files
// Python searched: sys.path (site-packages, the user's site-packages, PYTHONPATH's
// folders, what .pth files added), the .pth files themselves, each requirement's
// metadata folder, and pyvenv.cfg. Installing or removing a package changes its
// site-packages folder's mtime; a new interpreter changes its path or identity.
//
// Not seen: a change inside a package's own folder that leaves its parent alone (a file
// of torch edited in place), and what a .pth file's code decides at start-up beyond the
// folders it added. An interpreter named through a program that starts another (a pyenv
// shim) gets no stamp: what it starts can change with no file to watch. `amlflow run
// --recheck-env` asks Python again.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace amlflow::runtime {

// Whether an environment variable decides how Python starts (PYTHON*, HOME): those are the
// ones a check runs with and a stamp records.
bool decides_startup(const std::string& name);

struct EnvironmentStamp {
    // The question (the run store's key).
    std::string python;                  // the interpreter as the environment names it ("python3")
    std::string requirements_json;       // the `pip` list as written, a JSON array
    std::string variables_json;          // startup_variables() at the check, a JSON object
    // What the answer rests on, and the answer.
    std::string interpreter;             // `python` found as posix_spawnp finds it, symlinks resolved
    std::string identity;                // file_identity() of `interpreter`
    std::vector<std::pair<std::string, std::string>> watched;  // path -> file_identity()
    std::string ready_python;            // what the ranks run: `python`, or a cached venv's
    int64_t verified_ms = 0;             // unix ms of the check
};

// "dev:inode:size:mtime_ns" of what `path` names (symlinks followed); "missing" when
// nothing is there. *mtime_ns (when given) gets the mtime, 0 when missing.
std::string file_identity(const std::string& path, int64_t* mtime_ns = nullptr);

// `program` as posix_spawnp finds it: a path as given, else the first executable file of
// that name on $PATH; with symlinks resolved. Empty when there is none.
std::string resolve_program(const std::string& program);

// The variables Python reads at start-up that decide where it looks for packages: every
// PYTHON* name (PYTHONPATH, PYTHONHOME, PYTHONNOUSERSITE, PYTHONUSERBASE, ...) and HOME
// (the user's site-packages): this process's, with `overrides` (the environment's own
// `variables`) over them, as a rank gets them.
std::map<std::string, std::string> startup_variables(const std::map<std::string, std::string>& overrides);

// Whether what `stamp` rests on is as it was: `python` still resolves to `interpreter`,
// which has the same identity, and every watched path has its recorded identity. When
// not, *changed (when given) names the first difference.
bool stamp_holds(const EnvironmentStamp& stamp, std::string* changed = nullptr);

// File times come from a clock that advances in ticks: a change made in the same tick as
// one seen during the check would leave the same mtime behind. A stamp whose newest mtime
// lies within this much of the check's start is not kept (the next run checks again), as
// git treats an index entry as racily clean.
constexpr int64_t kRacyMarginNs = 1'000'000'000;

}  // namespace amlflow::runtime
