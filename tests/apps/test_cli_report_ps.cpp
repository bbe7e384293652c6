// dm report on the metrics file of dm ps serve: a file written by the server's own record
// writers (ps_report.hpp, metrics.hpp) drawn as its charts and tables, alone and beside a
// dm train run, and bad server records as one error line naming the file and line.
#include "cli_runner.hpp"
#include "metrics.hpp"
#include "ps_report.hpp"
#include "report_checks.hpp"
#include "svg_chart.hpp"

namespace {

using namespace cli_test;

dm::dist::WorkerStats worker(const std::string& name, std::int64_t pushes, double mean_staleness, bool connected) {
  dm::dist::WorkerStats w;
  w.name = name;
  w.pushes = pushes;
  w.samples = pushes * 64;
  w.samples_per_s = 1000.0 + static_cast<double>(pushes);
  w.applied = pushes;
  w.mean_staleness = mean_staleness;
  w.max_staleness = 3;
  w.stale_dropped = 1;
  w.reconnects = connected ? 0 : 2;
  w.connected = connected;
  return w;
}

// Three reports of two workers (a third joins for the last), an evaluation with each, and the
// summary: what dm ps serve --metrics --eval-every 20 --steps 60 writes.
void write_server_file(const fs::path& path) {
  dm::cli::MetricsFile file(path.string(), /*append=*/false);
  file.write_line(dm::cli::to_json_line(
      dm::cli::RunConfig{{"model", std::string("mlp:784-8-10")}, {"mode", std::string("bounded")}, {"max_staleness", std::int64_t{3}}},
      dm::cli::kPsMetricsFormat));
  for (std::int64_t k = 1; k <= 3; ++k) {
    std::vector<dm::dist::WorkerStats> workers{worker("alpha", 10 * k, 0.5 * static_cast<double>(k), true),
                                               worker("beta", 9 * k, 1.25, k < 3)};
    if (k == 3) workers.push_back(worker("late", 2, 0.0, true));
    file.write_line(dm::cli::workers_record(workers, 20 * k, 0.5 * static_cast<double>(k), k == 3));
    file.write_line(dm::cli::eval_record(20 * k, 0.5 * static_cast<double>(k) + 0.01, 1.0 / static_cast<double>(k),
                                         0.5 + 0.1 * static_cast<double>(k)));
  }
  file.write_line(dm::cli::summary_record(60, 1.5, 3456));
}

TEST(CliReportPs, TheServersFileDrawsItsWorkersAndAccuracy) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path metrics = dir / "ps_bounded.jsonl", page = dir / "page.html";
  write_server_file(metrics);
  const Result r = run_dm({"report", metrics.string(), "-o", page.string()}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(contains(r.out, "(0 runs, 1 parameter server)")) << r.out;
  const std::string html = read_file(page);
  expect_self_contained(html);
  // Accuracy against version and against time; pushes, samples/s and staleness per worker.
  EXPECT_EQ(occurrences(html, "<svg"), 5);
  EXPECT_EQ(occurrences(html, "</svg>"), 5);
  // One line per series: the server in each accuracy chart, three workers in each worker chart.
  EXPECT_EQ(occurrences(html, "<polyline"), 2 + 3 * 3);
  // Markers: three evaluations twice, and 3 + 3 + 1 worker reports in each of three charts.
  EXPECT_EQ(occurrences(html, "<circle"), 2 * 3 + 3 * 7);
  for (const char* part : {"Test accuracy against version", "Test accuracy against time", "ps_bounded: pushes taken",
                           "ps_bounded: throughput (samples/s)", "ps_bounded: mean staleness (versions)", "alpha",
                           "beta", "late", "mlp:784-8-10", "bounded"})
    EXPECT_TRUE(contains(html, part)) << part;
  // The workers table holds each worker's last report: beta's 27 pushes, its staleness, gone.
  EXPECT_TRUE(contains(html, "<tr><th>beta</th><td>27</td><td>1728</td><td>1027.0</td><td>27</td><td>1.25</td><td>3</td>"
                             "<td>1</td><td>2</td><td>gone</td></tr>"))
      << html;
  // The settings table: the config record, then the summary's totals.
  for (const char* row : {"<tr><th>max_staleness</th><td>3</td></tr>", "<tr><th>workers seen</th><td>3</td></tr>",
                          "<tr><th>evaluations</th><td>3</td></tr>", "<tr><th>versions</th><td>60</td></tr>",
                          "<tr><th>samples</th><td>3456</td></tr>", "<tr><th>samples/s</th><td>2304.0</td></tr>"})
    EXPECT_TRUE(contains(html, row)) << row;
}

TEST(CliReportPs, AServerBesideATrainingRunKeepsItsOwnColour) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const fs::path run = dir / "train.jsonl", server = dir / "server.jsonl", page = dir / "page.html";
  write_text(run, R"({"type":"config","format":"dm-metrics-1","model":"mlp:784-8-10","steps_per_epoch":10})" "\n"
                  R"({"type":"epoch","epoch":1,"lr":0.02,"train_loss":0.9,"samples_per_s":5000,"test_loss":0.8,"test_accuracy":0.7,"seconds":1})"
                  "\n");
  write_server_file(server);
  const Result r = run_dm({"report", run.string(), server.string(), "-o", page.string()}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "(1 run, 1 parameter server)")) << r.out;
  const std::string html = read_file(page);
  expect_self_contained(html);
  EXPECT_EQ(occurrences(html, "<svg"), 3 + 5);
  EXPECT_TRUE(contains(html, "1 run: train; 1 parameter server: server"));
  // The run has the first colour, the server the second, in the charts' legends and the tables.
  const std::string first = dm::cli::series_colour(0), second = dm::cli::series_colour(1);
  EXPECT_TRUE(contains(html, "background: " + first + "\"></span>train</th>"));
  EXPECT_TRUE(contains(html, "background: " + second + "\"></span>server</th>"));
  EXPECT_TRUE(contains(html, "fill=\"" + second + "\"/>\n<text x=\"98.00\"")) << "the server's legend entry";
}

TEST(CliReportPs, BadServerRecordsAreOneLineNamingFileAndLine) {
  DM_REQUIRE_CLI_AND_DATA();
  ScratchDir dir;
  const std::string config = R"({"type":"config","format":"dm-ps-metrics-1","mode":"async"})";
  const std::string workers = R"({"type":"workers","version":4,"seconds":0.5,"final":false,"workers":)";
  // A worker's fields but "pushes" and "connected".
  const std::string alpha =
      R"("name":"alpha","samples":256,"samples_per_s":100.0,"applied":4,"mean_staleness":0.5,"max_staleness":1,"stale_dropped":0,"reconnects":0)";
  const fs::path page = dir / "page.html";
  write_text(page, "previous page");
  const std::vector<BadMetrics> cases = {
      {"workers not a list", config + "\n" + workers + "3}", ":2: \"workers\" is not a list"},
      {"worker not an object", config + "\n" + workers + "[1]}", ":2: a worker is not a JSON object"},
      {"worker without name", config + "\n" + workers + R"([{"pushes":1}]})", ":2: the record lacks \"name\""},
      {"negative pushes", config + "\n" + workers + "[{" + alpha + R"(,"pushes":-1,"connected":true}]})",
       ":2: \"pushes\" must be a whole number >= 0"},
      {"connected not a flag", config + "\n" + workers + "[{" + alpha + R"(,"pushes":4,"connected":1}]})",
       ":2: \"connected\" is not true or false"},
      {"eval accuracy null", config + "\n" + R"({"type":"eval","version":2,"seconds":1,"test_loss":1,"test_accuracy":null})",
       ":2: \"test_accuracy\" is null"},
      {"summary without samples", config + "\n" + R"({"type":"summary","version":2,"seconds":1,"samples_per_s":1})",
       ":2: the record lacks \"samples\""},
      {"a training record", config + "\n" + R"({"type":"epoch","epoch":1})", ":2: unknown record type \"epoch\""},
      {"no type", config + "\n" + R"({"version":1})", ":2: the record has no \"type\""},
      {"a training config", config + "\n" + R"({"type":"config","format":"dm-metrics-1"})",
       ":2: config format \"dm-metrics-1\", expected \"dm-ps-metrics-1\""},
      {"server config in a training file",
       R"({"type":"step","step":1,"epoch":1,"loss":0.5,"lr":0.1})" "\n" + config,
       ":2: config format \"dm-ps-metrics-1\", expected \"dm-metrics-1\""},
      {"only the config", config + "\n", "no workers or eval records"},
  };
  expect_refused(cases, {}, page, dir);
}

}  // namespace
