#include "democratising/base/shape.hpp"

#include <ostream>
#include <sstream>

#include "democratising/base/checked.hpp"
#include "democratising/base/error.hpp"

namespace dm {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  for (auto d : dims) push_back(d);
}

Shape::Shape(const std::vector<std::int64_t>& dims) {
  for (auto d : dims) push_back(d);
}

void Shape::push_back(std::int64_t d) {
  if (ndim_ == kMaxDims) throw ShapeError("[shape] at most " + std::to_string(kMaxDims) + " dims are supported");
  dims_[ndim_++] = d;
}

void Shape::insert(int pos, std::int64_t d) {
  if (ndim_ == kMaxDims) throw ShapeError("[shape] at most " + std::to_string(kMaxDims) + " dims are supported");
  for (int i = ndim_; i > pos; --i) dims_[i] = dims_[i - 1];
  dims_[pos] = d;
  ++ndim_;
}

void Shape::erase(int pos) {
  for (int i = pos; i + 1 < ndim_; ++i) dims_[i] = dims_[i + 1];
  --ndim_;
}

std::int64_t Shape::numel() const {
  // A zero extent makes the product 0 whatever the others are, even if they alone would overflow.
  for (auto d : *this)
    if (d == 0) return 0;
  std::int64_t n = 1;
  for (auto d : *this) {
    const auto product = checked_mul(n, d);
    if (!product) throw ShapeError("[shape] the number of elements of " + str() + " overflows a 64-bit integer");
    n = *product;
  }
  return n;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.ndim_ != b.ndim_) return false;
  for (int i = 0; i < a.ndim_; ++i)
    if (a.dims_[i] != b.dims_[i]) return false;
  return true;
}

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  os << '(';
  for (int i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ',';
  return os << ')';
}

Strides contiguous_strides(const Shape& shape) {
  Strides st = shape;
  std::int64_t acc = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    st[i] = acc;
    if (i == 0) break;  // the outermost extent is in no stride
    const auto next = checked_mul(acc, shape[i]);
    if (!next) throw ShapeError("[strides] the strides of " + shape.str() + " overflow a 64-bit integer");
    acc = *next;
  }
  return st;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int n = std::max(a.size(), b.size());
  Shape out;
  for (int i = 0; i < n; ++i) {
    const int ia = a.size() - n + i, ib = b.size() - n + i;
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string("[") + op + "] shapes " + a.str() + " and " + b.str() +
                       " cannot be broadcast: dim " + std::to_string(i) + " is " + std::to_string(da) + " vs " +
                       std::to_string(db));
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

int normalize_dim(std::int64_t dim, int ndim, const char* op) {
  const int lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  if (dim < lo || dim > hi)
    throw ShapeError(std::string("[") + op + "] dim " + std::to_string(dim) + " out of range for a " +
                     std::to_string(ndim) + "-d tensor");
  return static_cast<int>(dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim);
}

}  // namespace dm
