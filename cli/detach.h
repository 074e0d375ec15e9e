// `amlflow run FILE --detach` (issue 19 item 4), as Nextflow's `run -bg`: the file is checked
// and planned in the foreground, exactly as without --detach (a wrong file fails there, exit
// 1, and nothing starts); then the run is driven by a second amlflow, the driver, started as
// a re-exec of this very program (/proc/self/exe, never a fork of a process that may hold
// threads) with the same command line less --detach and plus the hidden `--driver-fd N`. The
// driver has a session of its own (a closed terminal or a Ctrl-C there does not reach it),
// stdin /dev/null, and its output in the run's folder (`driver.log`, `amlflow logs RUN
// --driver`).
//
// The two talk over a pipe, one line per event: "run <id>\t<remote 0|1>\t<run folder>" once
// the run is recorded and the driver holds its lock, then "job <step>\t<name>\t<studio>" when
// the first Azure ML job is submitted. The foreground prints the run id and the commands that
// follow, stop and show the run, and exits 0 as soon as the run has started: at once for a run
// on this machine or on hosts, once its first job is on the service for a run with an
// `amlcompute` step (so the job's name can be shown), waiting a bounded time for that. A
// driver that ends before then is said, with the last lines it wrote, and its exit code is
// the foreground's.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace amlflow::cli {

// The driver's end of the pipe, in the driver (a process started with --driver-fd).
class DriverChannel {
public:
    // Takes `fd` (close-on-exec from here on, so nothing the run starts holds it).
    static void adopt(int fd);
    // The channel of this process, or nullptr when it is no driver.
    static DriverChannel* current();

    // The run is recorded and this process runs it: from now on its output goes to
    // <run folder>/driver.log, and the foreground hears the run's id.
    void run_started(const std::string& run_id, const std::filesystem::path& run_folder, bool remote);
    // An Azure ML job was submitted: the first one ends the conversation.
    void job_submitted(const std::string& step, const std::string& job, const std::string& studio);

private:
    explicit DriverChannel(int fd) : fd_(fd) {}
    void say(const std::string& line);
    int fd_ = -1;
};

// The foreground: starts the driver with `driver_args` (amlflow's arguments after the
// program name), waits for the run to start and says how to reach it; returns the exit code.
// `hint` is added to the commands shown (" --file FILE" where the store is not the default).
int start_detached(const std::vector<std::string>& driver_args, const std::string& hint);

}  // namespace amlflow::cli
