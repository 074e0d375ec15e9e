// What the preflight asks a host, and how its answer reads: one small POSIX sh script sent
// as ssh's remote command (one round trip per host), printing `key=value` lines between two
// marker lines, so a login banner or a profile's chatter around them is ignored. Pure:
// building the script and parsing its answer need no host, so both are unit-tested.
//
// The script reports the host's name, the address ssh reached ($SSH_CONNECTION), Open
// MPI's version (`mpirun --version`, else `ompi_info --version`), the cores (nproc), the
// GPUs (`nvidia-smi --query-gpu=index,uuid` where present) and the interpreter found
// (`command -v`). It then asks that interpreter, with importlib.metadata as the local
// environment check does (core/environment_check.cc), which `pip` requirements are not
// installed, and what that answer rests on: the interpreter's file, sys.path's folders,
// the site-packages folders and their .pth files, each requirement's metadata folder and
// pyvenv.cfg, as `inode:size:mtime` (what `stat -L -c %i:%s:%Y` prints). Given the
// identity of an earlier answer, the script compares it with `stat` first and, when it
// still holds, answers `packages=cached` without starting Python at all.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace amlflow::runtime {

// An earlier "all installed" answer for a host and interpreter (the preflight's cache).
struct PackageStamp {
    std::vector<std::string> watched;  // the paths it rests on, the interpreter first
    std::string identity;              // "<interpreter>|<+/- per path>|<inode:size:mtime >..."
};

struct HostGpuFact {
    int index = 0;
    std::string uuid;
};

// One host's answer, as parsed.
struct PreflightAnswer {
    bool complete = false;             // both markers seen: the script ran to its end
    std::string hostname;
    std::string address;               // the host's address as ssh reached it, or ""
    std::string ompi_version;          // "4.1.4", or "" when there is no Open MPI
    int cores = 0;                     // 0 when unknown
    std::vector<HostGpuFact> gpus;
    std::string python;                // the interpreter's path there, or "" when not found
    bool packages_cached = false;      // the earlier answer still holds; Python not started
    bool python_ran = false;           // the check printed its answer line
    std::string python_failure;        // the last line the interpreter printed when it failed
    std::vector<std::string> missing;  // requirements (distribution names) not installed
    std::optional<PackageStamp> stamp; // an answer that may be cached (nothing missing, none racy)
    std::string python_version;        // "3.11.2"
    int free_port = 0;                 // the port asked about, or one free in its stead; 0: not asked
};

// The remote command line (for ssh's last argument): `sh -c '<script>'`. `python` is the
// interpreter as named ("python3" or a path), `names` the requirements' distribution names,
// `cached` an earlier answer to check with stat first, or null. `master_port`, when not 0, is
// the rendezvous port the job wants on this host (the first): the answer says whether it is
// free there, or names a free one instead (this machine chose it, and only knew its own).
std::string preflight_command(const std::string& python, const std::vector<std::string>& names,
                              const PackageStamp* cached, int master_port = 0);

// Reads the script's stdout.
PreflightAnswer parse_preflight_answer(const std::string& out);

// "4.1.4" from "mpirun (Open MPI) 4.1.4" or "Open MPI v4.1.4" (ompi_info); "" when the line
// names no Open MPI.
std::string ompi_version_from(const std::string& line);

}  // namespace amlflow::runtime
