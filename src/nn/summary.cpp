// nn::summary: one probe input run layer by layer through a network, recording what comes out.
#include "democratising/nn/summary.hpp"

#include <algorithm>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/sequential.hpp"

namespace dm::nn {
namespace {

// The layer's own error, kept of its type so callers can still tell a ShapeError from the rest.
[[noreturn]] void rethrow_with_context(const std::string& context) {
  try {
    throw;
  } catch (const ShapeError& e) {
    throw ShapeError(context + e.what());
  } catch (const DTypeError& e) {
    throw DTypeError(context + e.what());
  } catch (const DeviceError& e) {
    throw DeviceError(context + e.what());
  } catch (const ValueError& e) {
    throw ValueError(context + e.what());
  } catch (const MemoryError& e) {
    throw MemoryError(context + e.what());
  }
}

std::string child_path(const std::string& parent, std::size_t index) {
  return parent.empty() ? std::to_string(index) : parent + "." + std::to_string(index);
}

// Runs `x` through `module`, appending a row per leaf layer; returns the module's output.
Tensor walk(const Module& module, const std::string& path, const Tensor& x, std::vector<SummaryRow>& rows) {
  if (const auto* sequential = dynamic_cast<const Sequential*>(&module)) {
    Tensor h = x;
    for (std::size_t i = 0; i < sequential->size(); ++i) h = walk(*(*sequential)[i], child_path(path, i), h, rows);
    return h;
  }
  Tensor out;
  try {
    out = module.forward(x);
  } catch (const Error&) {
    rethrow_with_context("[summary] layer " + (path.empty() ? std::string("0") : path) + " " + module.name() +
                         " with input " + x.shape().str() + ": ");
  }
  rows.push_back({path, module.name(), out.shape(), module.num_parameters()});
  return out;
}

std::string with_thousands(std::int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  const std::size_t first = digits[0] == '-' ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > first && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

std::vector<SummaryRow> summary(const Module& module, const Shape& input_shape) {
  Device device = Device::cpu();
  DType dtype = DType::f32;
  const NamedTensors parameters = module.named_parameters();
  if (!parameters.empty()) {
    device = parameters.front().second.device();
    dtype = parameters.front().second.dtype();
  }
  NoGradGuard no_grad;
  EvalModeGuard eval;  // Dropout passes its input through, so shapes are those of inference
  std::vector<SummaryRow> rows;
  walk(module, "", Tensor::zeros(input_shape, dtype, device), rows);
  return rows;
}

std::string summary_table(const std::vector<SummaryRow>& rows) {
  const std::string h_path = "#", h_layer = "layer", h_shape = "output shape", h_params = "parameters";
  std::size_t w_path = h_path.size(), w_layer = h_layer.size(), w_shape = h_shape.size(), w_params = h_params.size();
  std::int64_t total = 0;
  for (const SummaryRow& r : rows) {
    w_path = std::max(w_path, r.path.size());
    w_layer = std::max(w_layer, r.layer.size());
    w_shape = std::max(w_shape, r.output_shape.str().size());
    w_params = std::max(w_params, with_thousands(r.parameters).size());
    total += r.parameters;
  }
  const std::string total_text = with_thousands(total);
  w_params = std::max(w_params, total_text.size());
  auto line = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d) {
    // Numbers right-aligned, so that their digits line up.
    return a + std::string(w_path - a.size() + 2, ' ') + b + std::string(w_layer - b.size() + 2, ' ') + c +
           std::string(w_shape - c.size() + 2, ' ') + std::string(w_params - d.size(), ' ') + d + "\n";
  };
  const std::string rule(w_path + w_layer + w_shape + w_params + 6, '-');
  std::string out = line(h_path, h_layer, h_shape, h_params) + rule + "\n";
  for (const SummaryRow& r : rows)
    out += line(r.path.empty() ? "-" : r.path, r.layer, r.output_shape.str(), with_thousands(r.parameters));
  out += rule + "\n";
  out += line("", "total", "", total_text);
  return out;
}

}  // namespace dm::nn
