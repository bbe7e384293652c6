// nn::ParameterLayout: offsets of named parameters in one dense block, and views into it.
#include "democratising/nn/parameter_layout.hpp"

#include <set>
#include <string>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"

namespace dm::nn {

std::shared_ptr<const ParameterLayout> ParameterLayout::of(const NamedTensors& parameters) {
  auto layout = std::make_shared<ParameterLayout>();
  std::set<std::string> names;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const auto& [name, p] = parameters[i];
    if (!p.defined()) throw ValueError("[ParameterLayout] parameter '" + name + "' is undefined");
    if (!names.insert(name).second) throw ValueError("[ParameterLayout] duplicate parameter name '" + name + "'");
    if (i == 0) {
      layout->dtype_ = p.dtype();
    } else if (p.dtype() != layout->dtype_) {
      throw DTypeError("[ParameterLayout] parameters mix dtypes " + std::string(dtype_name(layout->dtype_)) + " and " +
                       std::string(dtype_name(p.dtype())) + " ('" + name + "'): they share one block");
    }
    layout->entries_.push_back({name, p.shape(), layout->numel_, p.numel()});
    layout->numel_ += p.numel();
  }
  return layout;
}

std::size_t ParameterLayout::index_of(const std::string& name) const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return i;
  throw ValueError("[ParameterLayout] no parameter named '" + name + "'");
}

Tensor ParameterLayout::allocate(Device device) const { return allocate(dtype_, device); }

Tensor ParameterLayout::allocate(DType dtype, Device device) const { return Tensor::zeros(Shape{numel_}, dtype, device); }

Tensor ParameterLayout::allocate_for_overwrite(Device device) const { return make_tensor(Shape{numel_}, dtype_, device); }

std::vector<Tensor> ParameterLayout::views(const Tensor& block) const {
  if (!block.defined() || block.dim() != 1 || block.numel() != numel_ || !block.is_contiguous())
    throw ShapeError("[ParameterLayout] a block of this layout is contiguous with shape (" + std::to_string(numel_) +
                     "), got " + (block.defined() ? block.shape().str() : std::string("an undefined tensor")));
  std::vector<Tensor> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_)
    out.push_back(make_view(block, e.shape, contiguous_strides(e.shape), block.storage_offset() + e.offset));
  return out;
}

NamedTensors ParameterLayout::named_views(const Tensor& block) const {
  std::vector<Tensor> v = views(block);
  NamedTensors out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out.emplace_back(entries_[i].name, std::move(v[i]));
  return out;
}

bool ParameterLayout::describes(const std::vector<Tensor>& tensors, const Tensor& block) const {
  if (tensors.size() != entries_.size() || !block.defined() || block.numel() != numel_ || block.dtype() != dtype_ ||
      !block.is_contiguous())
    return false;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (!t.defined() || !t.shares_storage_with(block) || t.dtype() != dtype_ || !t.is_contiguous() ||
        t.shape() != entries_[i].shape || t.storage_offset() != block.storage_offset() + entries_[i].offset)
      return false;
  }
  return true;
}

bool ParameterLayout::operator==(const ParameterLayout& other) const {
  if (dtype_ != other.dtype_ || numel_ != other.numel_ || entries_.size() != other.entries_.size()) return false;
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name != other.entries_[i].name || entries_[i].shape != other.entries_[i].shape) return false;
  return true;
}

std::uint64_t ParameterLayout::fingerprint() const {
  // FNV-1a: stable across processes and builds, unlike std::hash.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ULL;
  };
  const auto dtype = static_cast<std::int64_t>(dtype_);
  mix(&dtype, sizeof dtype);
  for (const Entry& e : entries_) {
    mix(e.name.data(), e.name.size() + 1);  // with the terminator, so "ab","c" differs from "a","bc"
    const auto rank = static_cast<std::int64_t>(e.shape.size());
    mix(&rank, sizeof rank);
    for (std::int64_t d : e.shape) mix(&d, sizeof d);
  }
  return h;
}

}  // namespace dm::nn
