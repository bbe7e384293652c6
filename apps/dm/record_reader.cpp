#include "record_reader.hpp"

#include <cmath>
#include <cstddef>

#include "democratising/base/error.hpp"
#include "democratising/io/file.hpp"

namespace dm::cli {
namespace {

// Larger than any run's file (a million steps logged is ~80 MB) and small enough to hold in memory.
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;

std::string quoted(const char* key) { return std::string("\"") + key + "\""; }

}  // namespace

LineReader::LineReader(const std::string& path, std::size_t line)
    : where_("[dm report] " + path + ":" + std::to_string(line) + ": ") {}

void LineReader::fail(const std::string& what) const { throw FormatError(where_ + what); }

double LineReader::number(const Record& record, const char* key) const {
  const auto it = record.find(key);
  if (it == record.end()) fail("the record lacks " + quoted(key));
  if (it->is_null()) fail(quoted(key) + " is null (a NaN or infinite value: the run diverged?)");
  if (!it->is_number()) fail(quoted(key) + " is not a number");
  const double v = it->get<double>();
  if (!std::isfinite(v)) fail(quoted(key) + " is not finite");
  return v;
}

double LineReader::optional_number(const Record& record, const char* key) const {
  return record.contains(key) ? number(record, key) : 0.0;
}

std::int64_t LineReader::whole(const Record& record, const char* key, std::int64_t least) const {
  const double v = number(record, key);
  // Small enough to be exact in a double and to index an axis.
  if (v < static_cast<double>(least) || v > 1e15 || v != std::floor(v))
    fail(quoted(key) + " must be a whole number >= " + std::to_string(least));
  return static_cast<std::int64_t>(v);
}

std::string LineReader::text(const Record& record, const char* key) const {
  const auto it = record.find(key);
  if (it == record.end()) fail("the record lacks " + quoted(key));
  if (!it->is_string()) fail(quoted(key) + " is not a string");
  return it->get<std::string>();
}

bool LineReader::flag(const Record& record, const char* key) const {
  const auto it = record.find(key);
  if (it == record.end()) fail("the record lacks " + quoted(key));
  if (!it->is_boolean()) fail(quoted(key) + " is not true or false");
  return it->get<bool>();
}

std::string LineReader::type(const Record& record) const {
  if (!record.is_object()) fail("not a JSON object");
  if (!record.contains("type")) return "";
  return text(record, "type");
}

void for_each_record(const std::string& path, const std::function<void(const LineReader&, const Record&)>& on_record) {
  std::vector<std::byte> bytes;
  try {
    bytes = io::read_file(path, kMaxFileBytes);
  } catch (const IoError& e) {
    throw IoError(std::string("[dm report] ") + e.what());
  } catch (const FormatError& e) {
    throw FormatError(std::string("[dm report] ") + e.what());
  }
  const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::size_t line_number = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    ++line_number;
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const LineReader in(path, line_number);
    const Record record = Record::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded()) in.fail("not valid JSON");
    on_record(in, record);
  }
}

std::vector<std::pair<std::string, std::string>> config_settings(const LineReader& in, const Record& record) {
  std::vector<std::pair<std::string, std::string>> settings;
  for (const auto& [key, value] : record.items()) {
    if (key == "type" || key == "format") continue;
    if (value.is_structured()) in.fail("config entry \"" + key + "\" is not a plain value");
    settings.emplace_back(key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  return settings;
}

}  // namespace dm::cli
