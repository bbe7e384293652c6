#pragma once
// CPU kernels of embedding's backward (embedding.cpp) and of fused scaled dot-product
// attention (attention.cpp); see the Backend entries of the same names for layouts and maths.
#include <cstddef>
#include <cstdint>

#include "backend/attention_geometry.hpp"
#include "democratising/base/dtype.hpp"

namespace dm::cpu {

// embedding.cpp
void embedding_backward(DType dtype, const std::byte* g, const std::int64_t* indices, std::int64_t n,
                        std::int64_t num, std::int64_t dim, std::byte* dw);

// attention.cpp
void attention_forward(DType dtype, const backend::AttentionGeometry& geo, const std::byte* q, const std::byte* k,
                       const std::byte* v, std::byte* out, std::byte* lse);
void attention_backward(DType dtype, const backend::AttentionGeometry& geo, const std::byte* g, const std::byte* q,
                        const std::byte* k, const std::byte* v, const std::byte* lse, std::byte* dq, std::byte* dk,
                        std::byte* dv);

}  // namespace dm::cpu
