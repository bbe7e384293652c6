// dm report: the page for real runs, overlay of several runs, escaping, and every kind of bad
// input as one error line naming the file and line, without touching the output.
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "report_checks.hpp"

namespace {

using namespace cli_test;

const std::string kConfig =
    R"({"type":"config","format":"dm-metrics-1","model":"mlp:784-8-10","lr":0.02,"steps_per_epoch":10})";
const std::string kEpoch1 =
    R"({"type":"epoch","epoch":1,"lr":0.02,"train_loss":0.9,"samples_per_s":5000,"test_loss":0.8,"test_accuracy":0.7,"seconds":1})";
const std::string kEpoch2 =
    R"({"type":"epoch","epoch":2,"lr":0.01,"train_loss":0.6,"samples_per_s":5200,"test_loss":0.6,"test_accuracy":0.78,"seconds":1})";

/// Checks shared by every page: well-formed, self-contained, three charts.
void expect_sound_page(const std::string& html) {
  expect_self_contained(html);
  EXPECT_EQ(occurrences(html, "<svg"), 3);
  EXPECT_EQ(occurrences(html, "</svg>"), 3);
}

TEST(CliReport, TwoRealRunsOverlayInEveryChart) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path a = dir / "sgd_run.jsonl", b = dir / "adam_run.jsonl";
  ASSERT_EQ(run_dm({"train", "--limit", "640", "--epochs", "2", "--model", "mlp:784-8-10", "--metrics", a.string(),
                    "--log-every", "2"},
                   dir)
                .exit_code,
            0);
  ASSERT_EQ(run_dm({"train", "--limit", "640", "--epochs", "3", "--model", "mlp:784-16-10", "--optimizer", "adam",
                    "--lr", "0.002", "--metrics", b.string()},
                   dir)
                .exit_code,
            0);
  const fs::path page = dir / "report.html";
  const Result r = run_dm({"report", a.string(), b.string(), "-o", page.string()}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string html = read_file(page);
  expect_sound_page(html);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* part : {"sgd_run", "adam_run", "mlp:784-8-10", "mlp:784-16-10", "adam", "Test accuracy",
                           "Training loss", "samples/s"})
    EXPECT_TRUE(contains(html, part)) << part;
  // Each chart has a line per run: 2 x 3 polylines. The loss of the logged run is drawn per step
  // (10 steps of 64, every 2nd logged: 10 points), without markers; the other's per epoch.
  EXPECT_EQ(occurrences(html, "<polyline"), 6);
  // Markers: accuracy (2 + 3) + throughput (2 + 3) + the second run's loss per epoch (3).
  EXPECT_EQ(occurrences(html, "<circle"), 13);
  // No temporary file is left beside the page.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) files += entry.path().filename().string().find(".tmp.") != std::string::npos;
  EXPECT_EQ(files, 0);
}

TEST(CliReport, TextFromTheFilesIsEscaped) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path evil = dir / "<b>run&'x\".jsonl";
  write_text(evil, R"({"type":"config","model":"<script>alert(1)</script>","note":"</table><b>bold</b>","steps_per_epoch":3})"
                   "\n" + kEpoch1 + "\n");
  const fs::path page = dir / "page.html";
  const Result r = run_dm({"report", evil.string(), "-o", page.string(), "--title", "<i>title</i>"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = read_file(page);
  expect_sound_page(html);
  EXPECT_TRUE(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(contains(html, "&lt;b&gt;run&amp;&#39;x&quot;"));
  EXPECT_TRUE(contains(html, "&lt;i&gt;title&lt;/i&gt;"));
  EXPECT_FALSE(contains(html, "<b>"));
  EXPECT_FALSE(contains(html, "<i>"));
}

TEST(CliReport, OlderFilesWithoutTypesOrConfigStillDraw) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path old = dir / "old.jsonl";
  write_text(old, R"({"epoch":1,"train_loss":0.9,"samples_per_s":100,"test_loss":0.8,"test_accuracy":0.7,"seconds":2})"
                  "\n\n");
  const Result r = run_dm({"report", old.string(), "-o", (dir / "p.html").string()}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_sound_page(read_file(dir / "p.html"));
}

TEST(CliReport, BadInputIsOneLineNamingFileAndLineAndLeavesTheOutput) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path good = dir / "good.jsonl";
  write_text(good, kConfig + "\n" + kEpoch1 + "\n" + kEpoch2 + "\n");
  const fs::path page = dir / "page.html";
  write_text(page, "previous page");
  const std::vector<BadMetrics> cases = {
      {"not json", kConfig + "\nthis is not json\n", ":2: not valid JSON"},
      {"NaN literal", kConfig + "\n" + R"({"type":"epoch","epoch":1,"train_loss":NaN})" + "\n", ":2: not valid JSON"},
      {"null loss", kEpoch1 + "\n" + R"({"type":"epoch","epoch":2,"lr":0.1,"train_loss":null,"samples_per_s":1,"test_loss":1,"test_accuracy":0.5})",
       ":2: \"train_loss\" is null"},
      {"missing field", kConfig + "\n" + R"({"type":"epoch","epoch":1,"train_loss":0.5,"samples_per_s":1,"test_loss":1})",
       ":2: the record lacks \"test_accuracy\""},
      {"string number", R"({"type":"step","step":1,"epoch":1,"loss":"0.5","lr":0.1})", ":1: \"loss\" is not a number"},
      {"huge", R"({"type":"step","step":1,"epoch":1,"loss":1e999,"lr":0.1})", ":1: "},
      {"fractional epoch", R"({"type":"epoch","epoch":1.5,"lr":0.02,"train_loss":0.9,"samples_per_s":5000,"test_loss":0.8,"test_accuracy":0.7})",
       ":1: \"epoch\" must be a whole number"},
      {"unknown type", kConfig + "\n" + R"({"type":"weights"})", ":2: unknown record type \"weights\""},
      {"no type", R"({"loss":1})", ":1: the record has no \"type\""},
      {"array", "[1,2,3]", ":1: not a JSON object"},
      {"wrong format", R"({"type":"config","format":"other-9"})" "\n" + kEpoch1, ":1: config format"},
      {"nested config", R"({"type":"config","model":{"a":1}})" "\n" + kEpoch1, ":1: config entry \"model\""},
      {"only config", kConfig + "\n", "no epoch or step records"},
      {"empty", "", "no epoch or step records"},
      {"binary", std::string("\x89PNG\r\n\x1a\n\0\0\0", 11), ":1: not valid JSON"},
      {"invalid utf-8", std::string(R"({"type":"config","model":")") + "\xff\xfe" + "\"}", ":1: not valid JSON"},
  };
  expect_refused(cases, {good.string()}, page, dir);
  // A file that is not there, or not a file.
  const Result missing = run_dm({"report", (dir / "absent.jsonl").string(), "-o", page.string()}, dir);
  expect_one_line_error(missing, 1);
  EXPECT_TRUE(contains(missing.err, "absent.jsonl")) << missing.err;
  const Result directory = run_dm({"report", dir.path().string(), "-o", page.string()}, dir);
  expect_one_line_error(directory, 1);
  EXPECT_EQ(read_file(page), "previous page");
  // The page over one of its own inputs, no inputs, no output, an output that cannot be written.
  expect_one_line_error(run_dm({"report", good.string(), "-o", good.string()}, dir), 2);
  EXPECT_TRUE(contains(read_file(good), "\"epoch\":2"));
  expect_one_line_error(run_dm({"report", "-o", page.string()}, dir), 2);
  expect_one_line_error(run_dm({"report", good.string()}, dir), 2);
  expect_one_line_error(run_dm({"report", good.string(), "-o", (dir / "no" / "dir.html").string()}, dir), 1);
  // And the good file alone works.
  ASSERT_EQ(run_dm({"report", good.string(), "-o", page.string()}, dir).exit_code, 0);
  expect_sound_page(read_file(page));
}

TEST(CliReport, SameNamesInDifferentDirectoriesAreToldApart) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  fs::create_directory(dir / "a");
  fs::create_directory(dir / "b");
  write_text(dir / "a" / "run.jsonl", kEpoch1 + "\n");
  write_text(dir / "b" / "run.jsonl", kEpoch2 + "\n");
  const Result r = run_dm({"report", (dir / "a" / "run.jsonl").string(), (dir / "b" / "run.jsonl").string(), "-o",
                           (dir / "p.html").string()},
                          dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = read_file(dir / "p.html");
  EXPECT_TRUE(contains(html, (dir / "a" / "run.jsonl").string()));
  EXPECT_TRUE(contains(html, (dir / "b" / "run.jsonl").string()));
}

}  // namespace
