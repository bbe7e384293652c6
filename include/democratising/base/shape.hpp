#pragma once
// Shape: up to kMaxDims extents, stored inline so copying one never allocates.
// Also used for strides (in elements, may be 0 for broadcast dims).
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

namespace dm {

inline constexpr int kMaxDims = 8;

/// The extents of a tensor's dims (also its strides), up to kMaxDims, stored inline.
class Shape {
 public:
  Shape() = default;
  /// @name Construction
  //@{
  /// A shape with these extents: `{2, 3}`, a std::vector, or an iterator range.
  Shape(std::initializer_list<std::int64_t> dims);
  Shape(const std::vector<std::int64_t>& dims);  // NOLINT(google-explicit-constructor)
  template <class It> Shape(It first, It last) { for (; first != last; ++first) push_back(*first); }
  //@}

  /// The number of dims.
  int size() const { return ndim_; }
  /// Whether it has no dims (a 0-d tensor's shape).
  bool empty() const { return ndim_ == 0; }
  /// @name Element access
  //@{
  /// Extent i (unchecked), and iteration over the extents.
  std::int64_t operator[](int i) const { return dims_[i]; }
  std::int64_t& operator[](int i) { return dims_[i]; }
  const std::int64_t* begin() const { return dims_; }
  const std::int64_t* end() const { return dims_ + ndim_; }
  std::int64_t* begin() { return dims_; }
  std::int64_t* end() { return dims_ + ndim_; }
  //@}
  /// The last extent (the shape must not be empty).
  std::int64_t back() const { return dims_[ndim_ - 1]; }

  /// Appends a dim; throws ShapeError past kMaxDims.
  void push_back(std::int64_t d);
  /// Inserts a dim at `pos`; throws ShapeError past kMaxDims.
  void insert(int pos, std::int64_t d);
  /// Removes the dim at `pos`.
  void erase(int pos);

  /// Product of the extents (1 for a 0-d shape).
  std::int64_t numel() const;
  /// The extents as a std::vector.
  std::vector<std::int64_t> vec() const { return {begin(), end()}; }
  /// "(2, 3, 4)"
  std::string str() const;

  /// @name Comparison
  //@{
  /// Same number of dims and same extents.
  friend bool operator==(const Shape& a, const Shape& b);
  friend bool operator==(const Shape& a, const std::vector<std::int64_t>& b) { return a == Shape(b); }
  //@}

 private:
  std::int64_t dims_[kMaxDims] = {};
  int ndim_ = 0;
};

using Strides = Shape;

std::ostream& operator<<(std::ostream& os, const Shape& s);

/// Row-major strides of a contiguous tensor of this shape.
Strides contiguous_strides(const Shape& shape);

/// NumPy broadcasting of two shapes; throws ShapeError naming both (and `op`) if they clash.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast");

/// Maps a possibly negative dim into [0, ndim); throws ShapeError naming `op` if out of range.
int normalize_dim(std::int64_t dim, int ndim, const char* op);

}  // namespace dm
