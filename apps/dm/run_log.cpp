#include "run_log.hpp"

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "democratising/base/error.hpp"
#include "democratising/io/file.hpp"
#include "metrics.hpp"

namespace dm::cli {
namespace {

using json = nlohmann::ordered_json;  // keeps a config record's settings in the order written

// Larger than any run's file (a million steps logged is ~80 MB) and small enough to hold in memory.
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;

class LineReader {
 public:
  LineReader(const std::string& path, std::size_t line) : where_("[dm report] " + path + ":" + std::to_string(line) + ": ") {}

  [[noreturn]] void fail(const std::string& what) const { throw FormatError(where_ + what); }

  double number(const json& record, const char* key) const {
    const auto it = record.find(key);
    if (it == record.end()) fail(std::string("the record lacks \"") + key + "\"");
    if (it->is_null()) fail(std::string("\"") + key + "\" is null (a NaN or infinite value: the run diverged?)");
    if (!it->is_number()) fail(std::string("\"") + key + "\" is not a number");
    const double v = it->get<double>();
    if (!std::isfinite(v)) fail(std::string("\"") + key + "\" is not finite");
    return v;
  }

  double optional_number(const json& record, const char* key) const {
    return record.contains(key) ? number(record, key) : 0.0;
  }

  std::int64_t count(const json& record, const char* key) const {
    const double v = number(record, key);
    // Integers only, and small enough to be exact in a double and to index an axis.
    if (v < 1 || v > 1e15 || v != std::floor(v)) fail(std::string("\"") + key + "\" must be a whole number >= 1");
    return static_cast<std::int64_t>(v);
  }

 private:
  std::string where_;
};

std::string display(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

void read_config(const LineReader& in, const json& record, RunLog& log) {
  if (const auto it = record.find("format"); it != record.end() && *it != kMetricsFormat)
    in.fail("config format " + it->dump() + ", expected \"" + std::string(kMetricsFormat) + "\"");
  ++log.parts;
  if (log.parts > 1) return;  // a resumed part repeats the settings; the first say how the run began
  for (const auto& [key, value] : record.items()) {
    if (key == "type" || key == "format") continue;
    if (value.is_structured()) in.fail("config entry \"" + key + "\" is not a plain value");
    log.config.emplace_back(key, display(value));
  }
  if (record.contains("steps_per_epoch")) log.steps_per_epoch = in.count(record, "steps_per_epoch");
}

void read_record(const LineReader& in, const json& record, RunLog& log) {
  if (!record.is_object()) in.fail("not a JSON object");
  std::string type;
  if (const auto it = record.find("type"); it != record.end()) {
    if (!it->is_string()) in.fail("\"type\" is not a string");
    type = it->get<std::string>();
  } else if (record.contains("epoch") && record.contains("train_loss")) {
    type = "epoch";  // files written before records had a type held epoch records only
  } else {
    in.fail("the record has no \"type\"");
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

std::string base_name(const std::string& path) {
  const std::string stem = std::filesystem::path(path).stem().string();
  return stem.empty() ? path : stem;
}

}  // namespace

RunLog read_run_log(const std::string& path) {
  std::vector<std::byte> bytes;
  try {
    bytes = io::read_file(path, kMaxFileBytes);
  } catch (const IoError& e) {
    throw IoError(std::string("[dm report] ") + e.what());
  } catch (const FormatError& e) {
    throw FormatError(std::string("[dm report] ") + e.what());
  }
  const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  RunLog log;
  log.path = path;
  log.name = base_name(path);
  std::size_t line_number = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    ++line_number;
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const LineReader in(path, line_number);
    const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded()) in.fail("not valid JSON");
    read_record(in, record, log);
  }
  if (log.epochs.empty() && log.steps.empty())
    throw FormatError("[dm report] " + path + ": no epoch or step records (a metrics file of dm train --metrics?)");
  return log;
}

std::vector<RunLog> read_run_logs(const std::vector<std::string>& paths) {
  std::vector<RunLog> logs;
  for (const std::string& path : paths) logs.push_back(read_run_log(path));
  std::map<std::string, int> uses;
  for (const RunLog& log : logs) ++uses[log.name];
  for (RunLog& log : logs)
    if (uses[log.name] > 1) log.name = log.path;
  return logs;
}

}  // namespace dm::cli
