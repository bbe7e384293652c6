#pragma once
// Names shared by the safetensors reader and writer.
#include <optional>
#include <string_view>

#include "democratising/base/dtype.hpp"

namespace dm::io::safetensors {

inline constexpr std::string_view kMetadataKey = "__metadata__";

inline constexpr std::string_view dtype_to_string(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::bf16: return "BF16";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
    case DType::boolean: return "BOOL";
  }
  return "?";
}

inline std::optional<DType> dtype_from_string(std::string_view s) {
  for (DType t : {DType::f32, DType::f64, DType::bf16, DType::i32, DType::i64, DType::u8, DType::boolean})
    if (dtype_to_string(t) == s) return t;
  return std::nullopt;
}

}  // namespace dm::io::safetensors
