#include "run_log.hpp"

#include "metrics.hpp"

namespace dm::cli {
namespace {

void read_config(const LineReader& in, const Record& record, RunLog& log) {
  if (const auto it = record.find("format"); it != record.end() && *it != kMetricsFormat)
    in.fail("config format " + it->dump() + ", expected \"" + std::string(kMetricsFormat) + "\"");
  ++log.parts;
  if (log.parts > 1) return;  // a resumed part repeats the settings; the first say how the run began
  log.config = config_settings(in, record);
  if (record.contains("steps_per_epoch")) log.steps_per_epoch = in.count(record, "steps_per_epoch");
}

}  // namespace

void read_run_record(const LineReader& in, const Record& record, RunLog& log) {
  std::string type = in.type(record);
  if (type.empty()) {
    // Files written before records had a type held epoch records only.
    if (!record.contains("epoch") || !record.contains("train_loss")) in.fail("the record has no \"type\"");
    type = "epoch";
  }
  if (type == "config") {
    read_config(in, record, log);
  } else if (type == "epoch") {
    EpochPoint p;
    const std::int64_t epoch = in.count(record, "epoch");
    p.lr = in.optional_number(record, "lr");
    p.train_loss = in.number(record, "train_loss");
    p.test_loss = in.number(record, "test_loss");
    p.test_accuracy = in.number(record, "test_accuracy");
    p.samples_per_s = in.number(record, "samples_per_s");
    log.epochs[epoch] = p;
  } else if (type == "step") {
    StepPoint p;
    const std::int64_t step = in.count(record, "step");
    p.epoch = in.count(record, "epoch");
    p.loss = in.number(record, "loss");
    p.lr = in.number(record, "lr");
    log.steps[step] = p;
  } else {
    in.fail("unknown record type \"" + type + "\" (expected config, epoch or step)");
  }
}

}  // namespace dm::cli
