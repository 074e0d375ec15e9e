// A free TCP port on the loopback interface for an attempt's MASTER_PORT. A fresh one per
// attempt, so a restarted group never meets the TIME_WAIT sockets of the one before.
#pragma once

namespace amlflow::runtime {

// 0 when none could be had.
int free_port();

}  // namespace amlflow::runtime
