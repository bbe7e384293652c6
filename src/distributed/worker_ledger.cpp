#include "distributed/worker_ledger.hpp"

#include <algorithm>

#include "democratising/base/error.hpp"

namespace dm::dist {

void WorkerLedger::connected(const std::string& name, Clock::time_point now) {
  Record& r = records_[name];
  if (r.connections == 0) {
    r.first_connected = now;
    r.last_push = now;
  }
  ++r.connections;
}

void WorkerLedger::pushed(const std::string& name, std::int64_t samples, Clock::time_point now) {
  Record& r = records_[name];
  ++r.pushes;
  r.samples += samples;
  r.last_push = now;
}

void WorkerLedger::applied(const std::string& name, std::int64_t staleness) {
  Record& r = records_[name];
  ++r.applied;
  r.staleness_sum += staleness;
  r.max_staleness = std::max(r.max_staleness, staleness);
}

void WorkerLedger::stale_dropped(const std::string& name) { ++records_[name].stale_dropped; }

std::vector<WorkerStats> WorkerLedger::snapshot(const std::set<std::string>& connected_now) const {
  std::vector<WorkerStats> out;
  out.reserve(records_.size());
  for (const auto& [name, r] : records_) {
    WorkerStats w;
    w.name = name;
    w.pushes = r.pushes;
    w.samples = r.samples;
    const double seconds = std::chrono::duration<double>(r.last_push - r.first_connected).count();
    w.samples_per_s = seconds > 0.0 ? static_cast<double>(r.samples) / seconds : 0.0;
    w.applied = r.applied;
    w.mean_staleness = r.applied > 0 ? static_cast<double>(r.staleness_sum) / static_cast<double>(r.applied) : 0.0;
    w.max_staleness = r.max_staleness;
    w.stale_dropped = r.stale_dropped;
    w.connections = r.connections;
    w.reconnects = r.connections > 0 ? r.connections - 1 : 0;
    w.connected = connected_now.count(name) > 0;
    out.push_back(std::move(w));
  }
  return out;
}

void check_worker_name(const std::string& name) {
  if (name.empty() || name.size() > 128)
    throw FormatError("[ParameterServer] a worker name must have 1 to 128 characters, got " + std::to_string(name.size()));
  for (const char c : name)
    if (c < 0x21 || c > 0x7E) throw FormatError("[ParameterServer] a worker name must be printable ASCII without spaces");
}

}  // namespace dm::dist
