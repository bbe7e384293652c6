#include "ps_log.hpp"

#include <utility>

#include "ps_report.hpp"

namespace dm::cli {
namespace {

PsWorkerPoint worker_point(const LineReader& in, const Record& w, std::int64_t version, double seconds) {
  PsWorkerPoint p;
  p.version = version;
  p.seconds = seconds;
  dist::WorkerStats& s = p.stats;
  s.name = in.text(w, "name");
  s.pushes = in.whole(w, "pushes", 0);
  s.samples = in.whole(w, "samples", 0);
  s.samples_per_s = in.number(w, "samples_per_s");
  s.applied = in.whole(w, "applied", 0);
  s.mean_staleness = in.number(w, "mean_staleness");
  s.max_staleness = in.whole(w, "max_staleness", 0);
  s.stale_dropped = in.whole(w, "stale_dropped", 0);
  s.reconnects = in.whole(w, "reconnects", 0);
  s.connections = s.reconnects + 1;
  s.connected = in.flag(w, "connected");
  return p;
}

void read_workers(const LineReader& in, const Record& record, PsLog& log) {
  const std::int64_t version = in.whole(record, "version", 0);
  const double seconds = in.number(record, "seconds");
  const auto list = record.find("workers");
  if (list == record.end() || !list->is_array()) in.fail("\"workers\" is not a list");
  for (const Record& w : *list) {
    if (!w.is_object()) in.fail("a worker is not a JSON object");
    PsWorkerPoint point = worker_point(in, w, version, seconds);
    PsWorkerTrace* trace = nullptr;
    for (PsWorkerTrace& t : log.workers)
      if (t.name == point.stats.name) trace = &t;
    if (!trace) trace = &log.workers.emplace_back(PsWorkerTrace{point.stats.name, {}});
    trace->points.push_back(std::move(point));
  }
}

}  // namespace

bool is_ps_config(const Record& record) {
  if (!record.is_object()) return false;
  const auto type = record.find("type"), format = record.find("format");
  return type != record.end() && *type == "config" && format != record.end() && *format == kPsMetricsFormat;
}

void read_ps_record(const LineReader& in, const Record& record, PsLog& log) {
  const std::string type = in.type(record);
  if (type.empty()) in.fail("the record has no \"type\"");
  if (type == "config") {
    if (!is_ps_config(record)) {
      const auto format = record.find("format");
      in.fail("config format " + (format == record.end() ? std::string("missing") : format->dump()) + ", expected \"" +
              std::string(kPsMetricsFormat) + "\"");
    }
    if (log.config.empty()) log.config = config_settings(in, record);
  } else if (type == "workers") {
    read_workers(in, record, log);
  } else if (type == "eval") {
    PsEvalPoint p;
    p.version = in.whole(record, "version", 0);
    p.seconds = in.number(record, "seconds");
    p.test_loss = in.number(record, "test_loss");
    p.test_accuracy = in.number(record, "test_accuracy");
    log.evals.push_back(p);
  } else if (type == "summary") {
    PsSummary s;
    s.version = in.whole(record, "version", 0);
    s.seconds = in.number(record, "seconds");
    s.samples = in.whole(record, "samples", 0);
    s.samples_per_s = in.number(record, "samples_per_s");
    log.summary = s;
  } else {
    in.fail("unknown record type \"" + type + "\" (expected config, workers, eval or summary)");
  }
}

}  // namespace dm::cli
