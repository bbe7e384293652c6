// Numerical gradient check in f64: the analytic gradient of L = sum(f(x) * v), for a fixed
// random v, against central differences (L(x + eps) - L(x - eps)) / 2eps, element by element.
#include <cmath>
#include <sstream>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"

namespace dm::autograd {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                          double eps, double atol, double rtol) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dtype() != DType::f64)
      throw DTypeError("[gradcheck] input " + std::to_string(i) + " must be f64, got " +
                       std::string(dtype_name(inputs[i].dtype())));
    if (!inputs[i].requires_grad()) throw ValueError("[gradcheck] input " + std::to_string(i) + " must require grad");
  }
  // A private generator state, so checking does not disturb the caller's random stream.
  const GeneratorState saved = generator_state();
  manual_seed(0x6a09e667f3bcc908ULL);
  const Tensor probe_out = [&] {
    NoGradGuard no_grad;
    return f(inputs);
  }();
  const Tensor v = Tensor::randn(probe_out.shape(), DType::f64);
  set_generator_state(saved);

  const Tensor out = f(inputs);
  const Tensor loss = (out * v).sum();
  std::vector<Tensor> analytic = grad(loss, inputs);

  GradcheckResult result{true, 0.0, ""};
  NoGradGuard no_grad;
  auto loss_at = [&] { return (f(inputs) * v).sum().item<double>(); };
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Tensor x = inputs[i];
    if (!x.is_contiguous()) throw ValueError("[gradcheck] input " + std::to_string(i) + " must be contiguous");
    double* data = x.data<double>();
    const std::vector<double> a = analytic[i].to_vector<double>();
    for (std::int64_t k = 0; k < x.numel(); ++k) {
      const double orig = data[k];
      data[k] = orig + eps;
      const double up = loss_at();
      data[k] = orig - eps;
      const double down = loss_at();
      data[k] = orig;
      const double numeric = (up - down) / (2 * eps);
      const double err = std::abs(numeric - a[static_cast<std::size_t>(k)]);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (result.ok && err > atol + rtol * std::abs(numeric)) {
        std::ostringstream os;
        os << "input " << i << " element " << k << ": analytic " << a[static_cast<std::size_t>(k)] << " vs numeric "
           << numeric;
        result.ok = false;
        result.message = os.str();
      }
    }
  }
  return result;
}

}  // namespace dm::autograd
