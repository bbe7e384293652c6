#include "metrics.hpp"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "democratising/base/error.hpp"

namespace dm::cli {

// nlohmann::ordered_json keeps the fields in the order written; doubles are written round-trip exact.

std::string to_json_line(const EpochMetrics& m) {
  nlohmann::ordered_json j;
  j["type"] = "epoch";
  j["epoch"] = m.epoch;
  j["lr"] = m.lr;
  j["train_loss"] = m.train_loss;
  j["samples_per_s"] = m.samples_per_s;
  j["test_loss"] = m.test_loss;
  j["test_accuracy"] = m.test_accuracy;
  j["seconds"] = m.seconds;
  return j.dump();
}

std::string to_json_line(const StepMetrics& m) {
  nlohmann::ordered_json j;
  j["type"] = "step";
  j["step"] = m.step;
  j["epoch"] = m.epoch;
  j["loss"] = m.loss;
  j["lr"] = m.lr;
  return j.dump();
}

std::string to_json_line(const RunConfig& config, const char* format) {
  nlohmann::ordered_json j;
  j["type"] = "config";
  j["format"] = format;
  for (const auto& [key, value] : config) std::visit([&j, &key = key](const auto& v) { j[key] = v; }, value);
  return j.dump();
}

std::string summary_line(const EpochMetrics& m, int epochs) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "epoch %lld/%d  train_loss %.4f  test_loss %.4f  test_accuracy %.4f  %.0f samples/s  %.1fs",
                static_cast<long long>(m.epoch), epochs, m.train_loss, m.test_loss, m.test_accuracy, m.samples_per_s,
                m.seconds);
  return buf;
}

MetricsFile::MetricsFile(const std::string& path, bool append) : path_(path) {
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (!file_) throw IoError("[dm] cannot open metrics file '" + path + "': " + std::strerror(errno));
}

MetricsFile::~MetricsFile() {
  if (file_) std::fclose(file_);
}

void MetricsFile::write_line(const std::string& text) {
  const std::string line = text + "\n";
  if (std::fputs(line.c_str(), file_) < 0 || std::fflush(file_) != 0)
    throw IoError("[dm] cannot write metrics file '" + path_ + "': " + std::strerror(errno));
}

}  // namespace dm::cli
