// dm report's page as a person sees it: rendered by headless Chromium (Debian package chromium),
// the screenshot must show the charts (enough non-white pixels, and the runs' colours), the DOM
// must hold the three charts, and the page must log nothing to the console. How the console is
// read, and why that is reliable, is said in render_report.py; a control page with a failing
// script proves the reading works on the Chromium at hand. Skips when Chromium is absent.
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

#ifndef DM_REPORT_RENDER_SCRIPT
#define DM_REPORT_RENDER_SCRIPT ""
#endif

namespace {

using namespace cli_test;
using nlohmann::json;

std::string find_chromium() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(path)) return path;
  return "";
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// A run's metrics file with `epochs` epochs of `steps` logged steps each, its loss falling from `start`.
std::string synthetic_run(int epochs, int steps, double start) {
  std::string text = R"({"type":"config","format":"dm-metrics-1","model":"mlp:784-64-10","steps_per_epoch":)" +
                     std::to_string(steps) + "}\n";
  for (int e = 1; e <= epochs; ++e) {
    for (int s = 1; s <= steps; ++s) {
      const int step = (e - 1) * steps + s;
      text += R"({"type":"step","step":)" + std::to_string(step) + R"(,"epoch":)" + std::to_string(e) +
              R"(,"loss":)" + std::to_string(start / (1.0 + 0.05 * step)) + R"(,"lr":0.01})" + "\n";
    }
    text += R"({"type":"epoch","epoch":)" + std::to_string(e) + R"(,"lr":0.01,"train_loss":)" +
            std::to_string(start / (1.0 + e)) + R"(,"samples_per_s":)" + std::to_string(4000 + 100 * e) +
            R"(,"test_loss":0.5,"test_accuracy":)" + std::to_string(0.6 + 0.05 * e) + R"(,"seconds":1})" + "\n";
  }
  return text;
}

json render(const std::string& chromium, const fs::path& page, const ScratchDir& dir, bool console_only = false) {
  const fs::path out = dir / ("render_" + page.stem().string());
  fs::create_directories(out);
  const fs::path result = out / "result.json";
  const std::string command = "timeout -s KILL 240 /usr/bin/python3 " + shell_quote(DM_REPORT_RENDER_SCRIPT) + " " +
                              shell_quote(chromium) + " " + shell_quote(page.string()) + " " +
                              shell_quote(out.string()) + (console_only ? " --console-only" : "") + " > " + shell_quote(result.string()) + " 2> " +
                              shell_quote((out / "stderr").string());
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << read_file(out / "stderr");
  return json::parse(read_file(result), nullptr, false);
}

TEST(ReportRender, ChromiumShowsTheChartsAndLogsNothing) {
  DM_REQUIRE_CLI_AND_DATA();
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "Chromium is not installed (Debian package chromium; scripts/setup installs it)";
  if (!fs::exists("/usr/bin/python3") || std::string(DM_REPORT_RENDER_SCRIPT).empty())
    GTEST_SKIP() << "/usr/bin/python3 or the render script is missing";
  ScratchDir dir;
  write_text(dir / "first.jsonl", synthetic_run(4, 30, 2.0));
  write_text(dir / "second.jsonl", synthetic_run(3, 30, 2.6));
  const fs::path page = dir / "report.html";
  const Result r = run_dm({"report", (dir / "first.jsonl").string(), (dir / "second.jsonl").string(), "-o",
                           page.string()},
                          dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The control: a page whose script fails must show up in the console reading.
  const fs::path control = dir / "control.html";
  write_text(control, "<!DOCTYPE html><html><body><p>control</p><script>no_such_function();</script></body></html>\n");
  const json seen_control = render(chromium, control, dir, /*console_only=*/true);
  ASSERT_FALSE(seen_control.is_discarded());
  ASSERT_FALSE(seen_control.at("console").empty())
      << "Chromium logged no console message for a failing script: the console check cannot be trusted";

  const json seen = render(chromium, page, dir);
  ASSERT_FALSE(seen.is_discarded());
  EXPECT_TRUE(seen.at("console").empty()) << seen.at("console").dump(2);
  EXPECT_EQ(seen.at("svg_in_dom").get<int>(), 3);
  // Charts, text and tables cover a good part of the page; a blank one is white throughout.
  EXPECT_GT(seen.at("nonwhite_fraction").get<double>(), 0.02) << seen.dump();
  // Both runs' colours are on screen (lines, markers and legend swatches).
  EXPECT_GT(seen.at("colour_pixels").at("#1f77b4").get<int>(), 200) << seen.dump();
  EXPECT_GT(seen.at("colour_pixels").at("#ff7f0e").get<int>(), 200) << seen.dump();
}

}  // namespace
