#include "ps_report.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace dm::cli {

std::string worker_line(const dist::WorkerStats& w) {
  char figures[256];
  std::snprintf(figures, sizeof figures,
                " pushes %lld samples/s %.1f staleness mean %.2f max %lld stale-dropped %lld reconnects %lld %s",
                static_cast<long long>(w.pushes), w.samples_per_s, w.mean_staleness, static_cast<long long>(w.max_staleness),
                static_cast<long long>(w.stale_dropped), static_cast<long long>(w.reconnects),
                w.connected ? "connected" : "gone");
  return "worker " + w.name + figures;
}

std::string workers_record(const std::vector<dist::WorkerStats>& workers, std::int64_t version, double seconds, bool final) {
  nlohmann::ordered_json j;
  j["type"] = "workers";
  j["version"] = version;
  j["seconds"] = seconds;
  j["final"] = final;
  j["workers"] = nlohmann::ordered_json::array();
  for (const dist::WorkerStats& w : workers) {
    nlohmann::ordered_json r;
    r["name"] = w.name;
    r["pushes"] = w.pushes;
    r["samples"] = w.samples;
    r["samples_per_s"] = w.samples_per_s;
    r["applied"] = w.applied;
    r["mean_staleness"] = w.mean_staleness;
    r["max_staleness"] = w.max_staleness;
    r["stale_dropped"] = w.stale_dropped;
    r["reconnects"] = w.reconnects;
    r["connected"] = w.connected;
    j["workers"].push_back(std::move(r));
  }
  return j.dump();
}

std::string eval_record(std::int64_t version, double seconds, double test_loss, double test_accuracy) {
  nlohmann::ordered_json j;
  j["type"] = "eval";
  j["version"] = version;
  j["seconds"] = seconds;
  j["test_loss"] = test_loss;
  j["test_accuracy"] = test_accuracy;
  return j.dump();
}

std::string summary_record(std::int64_t version, double seconds, std::int64_t samples) {
  nlohmann::ordered_json j;
  j["type"] = "summary";
  j["version"] = version;
  j["seconds"] = seconds;
  j["samples"] = samples;
  j["samples_per_s"] = seconds > 0.0 ? static_cast<double>(samples) / seconds : 0.0;
  return j.dump();
}

}  // namespace dm::cli
