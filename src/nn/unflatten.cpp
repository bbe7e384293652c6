// nn::Unflatten: one dim split into several, checked so that a sample of the wrong size is named
// instead of being reshaped into a different batch.
#include "democratising/nn/unflatten.hpp"

#include <vector>

#include "democratising/base/error.hpp"

namespace dm::nn {

Unflatten::Unflatten(std::int64_t dim, const Shape& sizes) : dim_(dim), sizes_(sizes) {
  if (sizes.size() == 0) throw ValueError("[Unflatten] needs at least one size");
  for (std::int64_t s : sizes)
    if (s < 1) throw ValueError("[Unflatten] sizes must be at least 1, got " + sizes.str());
}

Tensor Unflatten::forward(const Tensor& x) const {
  const Shape& in = x.shape();
  const std::int64_t dim = dim_ < 0 ? dim_ + in.size() : dim_;
  if (dim < 0 || dim >= in.size())
    throw ShapeError("[Unflatten] dim " + std::to_string(dim_) + " is out of range for an input of shape " + in.str());
  if (in[static_cast<int>(dim)] != sizes_.numel())
    throw ShapeError("[Unflatten] dim " + std::to_string(dim_) + " of an input of shape " + in.str() + " holds " +
                     std::to_string(in[static_cast<int>(dim)]) + " elements, " + sizes_.str() + " needs " +
                     std::to_string(sizes_.numel()));
  std::vector<std::int64_t> out(in.begin(), in.begin() + dim);
  out.insert(out.end(), sizes_.begin(), sizes_.end());
  out.insert(out.end(), in.begin() + dim + 1, in.end());
  return x.reshape(Shape(out));
}

std::string Unflatten::name() const { return "Unflatten(" + std::to_string(dim_) + " -> " + sizes_.str() + ")"; }

}  // namespace dm::nn
