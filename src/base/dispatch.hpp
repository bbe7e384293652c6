#pragma once
// Calls a generic lambda with a tag of the C++ type behind a DType:
//   dispatch_dtype(t, [&]<class T>(TypeTag<T>) { ... T ... });
#include <cstdint>
#include <string>

#include "democratising/base/dtype.hpp"
#include "democratising/base/error.hpp"

namespace dm {

template <class T>
struct TypeTag { using type = T; };

template <class F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::bf16: return f(TypeTag<bf16>{});
    case DType::i32: return f(TypeTag<std::int32_t>{});
    case DType::i64: return f(TypeTag<std::int64_t>{});
    case DType::u8: return f(TypeTag<std::uint8_t>{});
    case DType::boolean: return f(TypeTag<bool>{});
  }
  throw DTypeError("unknown dtype " + std::to_string(static_cast<int>(t)));
}

/// Only f32 and f64 (compute dtypes of the float kernels).
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    default: throw DTypeError(std::string("[") + op + "] expects f32 or f64, got " + std::string(dtype_name(t)));
  }
}

/// Converts between element types, including bf16 and bool.
template <class To, class From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return static_cast<float>(v) != 0.0f || static_cast<double>(v) != 0.0;
  } else if constexpr (std::is_same_v<To, bf16>) {
    return bf16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<From, bf16>) {
    return static_cast<To>(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace dm
