// Which rank caused a group's failure, read from what the ranks wrote (DESIGN §4 "Failure
// and restart"; issue 18 item 7). The rank whose error came first is the cause, but a rank
// that only reports that a peer went away — Horovod's "has been shut down", NCCL or gloo
// connection errors, a torch store that lost rank 0, a SIGTERM turned into an exception — is
// a victim, however early it exited: a rank whose Python traceback ends in an exception of
// its own is preferred over it. The same rules serve local ranks (rank_group, shim_group:
// the first rank to exit is the candidate) and the service's (job_watch's logs, where no
// exit order is known).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/group_outcome.h"

namespace amlflow::runtime {

// Whether a line only says that another rank or the launcher went away.
bool peer_went_away(std::string_view line);

struct TracebackSeen {
    bool found = false;       // a "Traceback (most recent call last):" among the lines
    bool own = false;         // its exception is the rank's own, not a peer-went-away error
    std::string exception;    // the exception line ("ValueError: bad batch"), "" if cut off
};
// The first Python traceback in `lines` (oldest first) and the exception it ends with.
TracebackSeen first_traceback(const std::vector<std::string>& lines);

// Whether a rank whose last lines are `lines` failed only because a peer went away: its first
// traceback's exception says so, or, without a traceback, one of its lines does.
bool only_a_victim(const std::vector<std::string>& lines);

// The root cause among `ranks` (their numbers, in the order to prefer: the order failures were
// seen, else rank order), given each rank's last lines: the first with a traceback of its own;
// else the first with any traceback; else the first that wrote anything; else -1.
int root_cause_rank(const std::vector<int>& ranks, const std::function<std::vector<std::string>(int)>& lines_of);

// A group's first failure (an exit, a signal, a lost rank) reconsidered once every rank of
// `count` has ended: when the failing rank's lines say it was a victim and another rank has a
// traceback of its own, that rank becomes the cause and the message says both ("rank 1 raised
// the first error; rank 0 exited with code 1 after it"). false when the failure stands.
bool reconsider_root_cause(Failure& failure, int count, const std::function<std::vector<std::string>(int)>& lines_of);

}  // namespace amlflow::runtime
