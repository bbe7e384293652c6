// dm: train and evaluate models from the command line, and report on training runs.
//
// Exit codes: 0 success, 1 a failure while running (a dm::Error: unreadable data, a corrupt
// checkpoint...), 2 a bad command line. Every failure is one line on stderr,
// "dm: error: <message>".
#include <cstdio>
#include <exception>
#include <string>

#include "commands.hpp"
#include "family_recipes.hpp"
#include "ps_command.hpp"
#include "distributed.hpp"
#include "setup.hpp"
#include "democratising/base/error.hpp"
#include "democratising/runtime/denormals.hpp"

namespace {

void report(const std::string& message) {
  std::string line = message;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';  // always one line, whatever the message holds
  std::fprintf(stderr, "dm: error: %s\n", line.c_str());
}

// CLI11 says only "The following arguments were not expected" for `dm frobnicate`: name the
// word and the commands there are. Options (-h, --version) are left to CLI11.
void check_command_name(int argc, char** argv, const CLI::App& app) {
  if (argc < 2 || argv[1][0] == '-') return;
  const std::string word = argv[1];
  std::string names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == word) return;
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  throw dm::cli::UsageError("unknown command '" + word + "' (commands: " + names + "; see dm --help)");
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything starts a thread, so that the pool's workers, the loaders and MPI's threads
  // all inherit it (see the header): subnormals made every cnn epoch after the first 20-25% slower.
  dm::flush_denormals(true);
  CLI::App app{"dm: train and evaluate democratising models, and draw reports of their runs", "dm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dm 0.1.0");
  dm::cli::TrainOptions train_options;
  dm::cli::EvalOptions eval_options;
  CLI::App* train = dm::cli::add_train_command(app, train_options);
  dm::cli::DistributedFlags distributed_flags;
  dm::cli::add_distributed_flags(*train, distributed_flags);
  CLI::App* eval = dm::cli::add_eval_command(app, eval_options);
  dm::cli::PsOptions ps_options;
  CLI::App* ps = dm::cli::add_ps_command(app, ps_options);
  dm::cli::ReportOptions report_options;
  CLI::App* report_command = dm::cli::add_report_command(app, report_options);
  app.footer("Run dm COMMAND --help for a command's options.");
  try {
    check_command_name(argc, argv, app);
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
      return app.exit(e);
    }
    // What the command line left open comes from the model family's recipe (a resumed run's
    // checkpoint overrides it later); the ranges of the flags are checked here, by the rules a
    // resumed checkpoint's record obeys too.
    if (train->parsed()) dm::cli::apply_family_recipe(*train, train_options);
    if (train->parsed()) dm::cli::check_train_flags(train_options);
    if (train->parsed()) dm::cli::check_distributed_flags(*train, distributed_flags);
    if (train->parsed() && distributed_flags.enabled && !train_options.summary) return dm::cli::run_distributed_train(*train, train_options, distributed_flags);
    if (train->parsed()) return dm::cli::run_train(*train, train_options);
    if (eval->parsed()) return dm::cli::run_eval(eval_options);
    if (ps->parsed()) return dm::cli::run_ps(*ps, ps_options);
    if (report_command->parsed()) return dm::cli::run_report(report_options);
    return 0;
  } catch (const CLI::ParseError& e) {
    report(e.what());
    return 2;
  } catch (const dm::cli::UsageError& e) {
    report(e.what());
    return 2;
  } catch (const std::exception& e) {  // dm::Error and anything else that escaped a command
    report(e.what());
    return 1;
  } catch (...) {
    report("unknown failure");
    return 1;
  }
}
