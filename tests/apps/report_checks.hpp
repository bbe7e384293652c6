#pragma once
// Checks on the HTML of dm report shared by its tests: tag balance and what the page holds;
// and writing the metrics files they give it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"

namespace cli_test {

/// "" when every element of `html` is closed in order (void elements excepted, self-closing
/// tags allowed) and no '<' or '&' stands unescaped in text; else what is wrong and where.
inline std::string markup_problem(const std::string& html) {
  static const std::vector<std::string> kVoid = {"meta", "br", "hr", "img", "link", "input"};
  std::vector<std::string> open;
  std::size_t i = 0;
  while (i < html.size()) {
    if (html[i] == '&') {
      const std::size_t semi = html.find(';', i);
      if (semi == std::string::npos || semi - i > 10) return "bare '&' at " + std::to_string(i);
      i = semi + 1;
      continue;
    }
    if (html[i] != '<') {
      if (html[i] == '>') return "bare '>' at " + std::to_string(i);
      ++i;
      continue;
    }
    const std::size_t end = html.find('>', i);
    if (end == std::string::npos) return "unclosed tag at " + std::to_string(i);
    std::string tag = html.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.rfind("!DOCTYPE", 0) == 0) continue;
    if (tag.find('<') != std::string::npos) return "'<' inside a tag: " + tag;
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \t\n/"));
    if (name.empty()) return "empty tag name";
    // Quotes in attributes must pair up.
    std::size_t quotes = 0;
    for (char c : tag) quotes += c == '"';
    if (quotes % 2 != 0) return "unbalanced quotes in <" + tag + ">";
    if (closing) {
      if (open.empty() || open.back() != name) return "</" + name + "> closes " + (open.empty() ? "nothing" : open.back());
      open.pop_back();
    } else if (!self_closing && std::find(kVoid.begin(), kVoid.end(), name) == kVoid.end()) {
      open.push_back(name);
    }
  }
  return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

inline int occurrences(const std::string& text, const std::string& part) {
  int n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// Well-formed, and loads or runs nothing from anywhere.
inline void expect_self_contained(const std::string& html) {
  EXPECT_EQ(markup_problem(html), "");
  for (const char* external : {"http://", "https://", "<script", "url(", "<link", "<img", "@import", "src="})
    EXPECT_FALSE(contains(html, external)) << external;
}

/// A metrics file dm report must refuse; `says` stands in its error beside the file's name.
struct BadMetrics {
  const char* what;
  std::string content;
  const char* says;
};

/// dm report, given the files `before` and then each bad one, fails with one error line naming
/// the bad file and what is wrong with it, and leaves `page` as it was.
inline void expect_refused(const std::vector<BadMetrics>& cases, const std::vector<std::string>& before,
                           const std::filesystem::path& page, const ScratchDir& dir) {
  const std::filesystem::path bad = dir / "bad.jsonl";
  const std::string previous = read_file(page);
  for (const BadMetrics& c : cases) {
    SCOPED_TRACE(c.what);
    write_text(bad, c.content);
    std::vector<std::string> args{"report"};
    args.insert(args.end(), before.begin(), before.end());
    args.insert(args.end(), {bad.string(), "-o", page.string()});
    const Result r = run_dm(args, dir);
    expect_one_line_error(r, 1);
    EXPECT_TRUE(contains(r.err, bad.string() + c.says) || contains(r.err, bad.string() + ": " + c.says)) << r.err;
    EXPECT_EQ(read_file(page), previous) << "the output was touched";
  }
}

}  // namespace cli_test
