// dm eval: the test-split loss and accuracy of a checkpoint.
#include <cstdio>
#include <exception>
#include <string>

#include "commands.hpp"
#include "democratising/base/error.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/runtime/pool.hpp"
#include "device_option.hpp"
#include "option_checks.hpp"
#include "placement.hpp"
#include "setup.hpp"

namespace dm::cli {

CLI::App* add_eval_command(CLI::App& app, EvalOptions& o) {
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on the Fashion-MNIST test split");
  cmd->add_option("--checkpoint", o.checkpoint, "Checkpoint written by dm train")->required();
  cmd->add_option("--model", o.model, "Network of the checkpoint (default: the one it records, else mlp:784-128-10)");
  cmd->add_option("--data", o.data, "Directory of the Fashion-MNIST IDX files")->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "Samples per forward pass")->check(positive_integer())->capture_default_str();
  cmd->add_option("--threads", o.threads, "Worker threads (default: all cores)")->check(integer_in(1, 1 << 16));
  cmd->add_option("--device", o.device, "Where to evaluate: cpu, cuda (GPU 0) or cuda:N")->capture_default_str();
  cmd->add_flag("--allow-non-finite", o.allow_non_finite,
                "Load a checkpoint even if it holds NaN or infinity (refused by default: the run diverged)");
  return cmd;
}

int run_eval(const EvalOptions& o) {
  const Device device = resolve_device(o.device, "dm eval");
  if (o.threads > 0) set_num_threads(o.threads);
  // The header alone says which network and optimizer state to expect (and rejects a corrupt
  // file before anything is allocated).
  const io::Metadata metadata = io::load_safetensors_metadata(o.checkpoint);
  auto recorded = [&](const char* key, const std::string& fallback) {
    const auto it = metadata.find(key);
    return it != metadata.end() ? it->second : fallback;
  };
  const std::string spec = o.model.empty() ? recorded("model", "mlp:784-128-10") : o.model;
  // The optimizer only has to hold the state the file carries: SGD keeps momentum buffers
  // only with a momentum, so that is read back too (lr plays no part in evaluation).
  const std::string momentum = recorded("momentum", "0.9");
  double momentum_value = 0.9;
  try {
    momentum_value = std::stod(momentum);
  } catch (const std::exception&) {
    throw FormatError("[dm eval] " + o.checkpoint + ": metadata momentum '" + momentum + "' is not a number");
  }
  Model model = build_model(spec, recorded("optimizer", "sgd"), 0.05, momentum_value);
  check_model_fits_data(model.module(), spec, "dm eval");
  model.load_checkpoint(o.checkpoint, {.allow_non_finite = o.allow_non_finite});
  Placement placement(model, device, {});
  const EvalResult r = placement.evaluate(test_loader(o.data, o.batch_size));
  std::printf("loss %.6f accuracy %.4f\n", r.loss, r.accuracy);
  return 0;
}

}  // namespace dm::cli
