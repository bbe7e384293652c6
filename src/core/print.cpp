// operator<< for tensors: values first, like PyTorch, then shape, dtype and device; large
// tensors show their first and last three entries per dim.
#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "democratising/core/tensor.hpp"
#include "tensor_impl.hpp"

namespace dm {
namespace {

constexpr std::int64_t kSummaryThreshold = 1000;
constexpr std::int64_t kEdgeItems = 3;

struct Printer {
  std::ostream& os;
  const std::vector<double>& values;
  const Shape& shape;
  bool summarise;
  bool integral;
  int precision = 4;

  void element(double v) const {
    if (integral) {
      os << static_cast<long long>(v);
    } else if (std::isnan(v) || std::isinf(v)) {
      os << v;
    } else {
      os << std::fixed << std::setprecision(precision) << v;
    }
  }

  // Prints the sub-tensor at `dim` whose first element has flat index `base`.
  void block(int dim, std::int64_t base, int indent) const {
    if (dim == shape.size()) {
      element(values[static_cast<std::size_t>(base)]);
      return;
    }
    std::int64_t stride = 1;
    for (int d = dim + 1; d < shape.size(); ++d) stride *= shape[d];
    const std::int64_t n = shape[dim];
    os << '[';
    for (std::int64_t i = 0; i < n; ++i) {
      if (summarise && n > 2 * kEdgeItems && i == kEdgeItems) {
        os << "...";
        i = n - kEdgeItems - 1;
        os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(static_cast<std::size_t>(indent + 1), ' '));
        continue;
      }
      block(dim + 1, base + i * stride, indent + 1);
      if (i + 1 < n) os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(static_cast<std::size_t>(indent + 1), ' '));
    }
    os << ']';
  }
};

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const std::vector<double> values = t.to_vector<double>();
  std::ostringstream body;
  Printer p{body, values, t.shape(), t.numel() > kSummaryThreshold, is_integral(t.dtype())};
  body << "tensor(";
  p.block(0, 0, 7);
  body << ", shape=" << t.shape() << ", dtype=" << dtype_name(t.dtype()) << ", device=" << t.device() << ')';
  return os << body.str();
}

}  // namespace dm
