#pragma once
// The parameter server's per-worker figures: pushes, samples, staleness and connections, kept
// by the name a worker gives, so that a worker that reconnects (or a process restarted under
// the same name) continues its own line instead of starting a new one. Touched from the
// server's one executor only.
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "democratising/distributed/parameter_server.hpp"

namespace dm::dist {

class WorkerLedger {
 public:
  using Clock = std::chrono::steady_clock;

  /// A connection's first push under `name`: one more connection.
  void connected(const std::string& name, Clock::time_point now);
  /// A push the server took, computed on `samples` samples.
  void pushed(const std::string& name, std::int64_t samples, Clock::time_point now);
  /// A push handed to training `staleness` versions after its base.
  void applied(const std::string& name, std::int64_t staleness);
  /// A push refused as too stale.
  void stale_dropped(const std::string& name);

  /// Every worker's figures, ordered by name; `connected_now` names the live ones.
  std::vector<WorkerStats> snapshot(const std::set<std::string>& connected_now) const;

 private:
  struct Record {
    std::int64_t pushes = 0;
    std::int64_t samples = 0;
    std::int64_t applied = 0;
    std::int64_t staleness_sum = 0;
    std::int64_t max_staleness = 0;
    std::int64_t stale_dropped = 0;
    std::int64_t connections = 0;
    Clock::time_point first_connected;
    Clock::time_point last_push;
  };
  std::map<std::string, Record> records_;
};

/// The name a worker gives in its updates: 1..128 printable ASCII characters (it is printed
/// and written to metrics files); FormatError otherwise.
void check_worker_name(const std::string& name);

}  // namespace dm::dist
