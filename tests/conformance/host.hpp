#pragma once
// Host-side tensors for the naive references: a shape and row-major doubles, with the view
// operations (transpose, slice, expand...) written out as index arithmetic, independent of the
// library's strided kernels.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "democratising/core/tensor.hpp"

namespace dm::conformance {

using Dims = std::vector<std::int64_t>;

struct Host {
  Dims shape;
  DType dtype = DType::f32;
  std::vector<double> v;  // row-major, shape's numel values, each representable in dtype

  std::int64_t numel() const { return static_cast<std::int64_t>(v.size()); }
  double at(const Dims& index) const;
  double& at(const Dims& index);
};

std::int64_t numel_of(const Dims& shape);
/// The multi-index of row-major position `flat`.
Dims unravel(std::int64_t flat, const Dims& shape);
std::int64_t ravel(const Dims& index, const Dims& shape);
/// "(3,1)" / "()".
std::string dims_str(const Dims& shape);

/// `value` as a tensor of dtype t stores it: f32 and bf16 round to nearest even, integers wrap
/// modulo their width (values are integral here), bool is value != 0.
double round_to(DType t, double value);

/// What a case draws its inputs from.
enum class Values {
  general,   // uniform in [-2, 2] (integers -4..4, u8 0..8, bool 0/1)
  positive,  // uniform in [0.1, 3] (integers 1..8)
  ties,      // a few small values, so that comparisons and argmax meet equal elements
  edge,      // 0, -0, +-inf, NaN, and large and tiny magnitudes, cycled
};

/// A host tensor of `shape` with values of `kind` from a fixed stream `seed`.
Host make_values(DType t, const Dims& shape, Values kind, std::uint64_t seed);
/// The library tensor of the same values, made on the CPU.
Tensor to_tensor(const Host& h);

// The view operations, by index arithmetic.
Host permute(const Host& h, const Dims& order);
Host transpose(const Host& h, int d0, int d1);
Host slice(const Host& h, int dim, std::int64_t start, std::int64_t end, std::int64_t step);
Host expand(const Host& h, const Dims& shape);
Host reshape(const Host& h, const Dims& shape);
/// NumPy broadcasting of two shapes.
Dims broadcast(const Dims& a, const Dims& b);
/// Element `index` of a broadcast result, read from h (whose shape broadcasts to it).
double broadcast_at(const Host& h, const Dims& index);

/// A layout: values made in `base` shape, then viewed; the library and the host apply the
/// same view in their own way.
struct Layout {
  std::string name;
  Dims base;
  std::function<Tensor(const Tensor&)> view;
  std::function<Host(const Host&)> host_view;
};

/// Layouts whose logical shape is (3,4): contiguous, transposed, step-sliced, narrowed,
/// expanded, and a permuted 3-d base.
std::vector<Layout> layouts_3x4();
/// 0-d and zero-size layouts.
Layout layout_scalar();
Layout layout_empty();
Layout layout_contiguous(const Dims& shape);

/// An input: made on the CPU in the layout's base, moved to the device, then viewed.
Tensor input_on(const Host& base, const Layout& layout, Device device);

}  // namespace dm::conformance
