#pragma once
// Reading a JSON-lines metrics file back for dm report: the file read whole within a size
// bound, each non-blank line parsed as one record, and checks on a record's fields that fail
// with a FormatError naming the file and line.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace dm::cli {

using Record = nlohmann::ordered_json;  // keeps a config record's settings in the order written

/// Where a record stands ("[dm report] PATH:LINE: "), and checks of its fields that throw a
/// FormatError saying that place.
class LineReader {
 public:
  LineReader(const std::string& path, std::size_t line);

  [[noreturn]] void fail(const std::string& what) const;

  /// A finite number (NaN and infinity are written as null: the message says so).
  double number(const Record& record, const char* key) const;
  /// number(), or 0 when the record lacks the field.
  double optional_number(const Record& record, const char* key) const;
  /// A whole number >= `least`, small enough to be exact in a double.
  std::int64_t whole(const Record& record, const char* key, std::int64_t least) const;
  /// whole(record, key, 1): an epoch, a step, a version.
  std::int64_t count(const Record& record, const char* key) const { return whole(record, key, 1); }
  /// A string field.
  std::string text(const Record& record, const char* key) const;
  /// A true/false field.
  bool flag(const Record& record, const char* key) const;
  /// The "type" of a record, after checking it is an object; "" when it has none.
  std::string type(const Record& record) const;

 private:
  std::string where_;
};

/// Calls on_record for each non-blank line of the file at `path`, in order. Throws IoError for
/// a file that cannot be read, FormatError for one too large or a line that is not JSON.
void for_each_record(const std::string& path, const std::function<void(const LineReader&, const Record&)>& on_record);

/// A config record's settings as display text, in file order, without "type" and "format";
/// a structured value fails.
std::vector<std::pair<std::string, std::string>> config_settings(const LineReader& in, const Record& record);

}  // namespace dm::cli
