// matmul (1-d, 2-d, batched with broadcast batch dims, transposed and strided operands,
// zero-size) in f32, f64 and bf16; index_select along each dim, every dtype.
#include <string>

#include "harness.hpp"
#include "host.hpp"

namespace dm::conformance {
namespace {

// torch.matmul on host tensors: a 1-d lhs is (1,k) and a 1-d rhs (k,1), their dim dropped
// afterwards; the batch dims broadcast.
Output matmul_reference(Host a, Host b, DType out) {
  const bool a_vec = a.shape.size() == 1, b_vec = b.shape.size() == 1;
  if (a_vec) a = reshape(a, {1, a.shape[0]});
  if (b_vec) b = reshape(b, {b.shape[0], 1});
  const Dims batch_a(a.shape.begin(), a.shape.end() - 2), batch_b(b.shape.begin(), b.shape.end() - 2);
  const Dims batch = broadcast(batch_a, batch_b);
  const std::int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back(), n = b.shape.back();
  Dims shape = batch;
  if (!a_vec) shape.push_back(m);
  if (!b_vec) shape.push_back(n);
  std::vector<double> y;
  for (std::int64_t p = 0; p < numel_of(batch); ++p) {
    const Dims bi = unravel(p, batch);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0.0;
        for (std::int64_t q = 0; q < k; ++q) {
          Dims ia = bi, ib = bi;
          ia.push_back(i);
          ia.push_back(q);
          ib.push_back(q);
          ib.push_back(j);
          s += broadcast_at(a, ia) * broadcast_at(b, ib);
        }
        y.push_back(s);
      }
  }
  return expect("out", shape, out, y);
}

void matmul_case(Cases& cases, DType dtype, const Layout& la, const Layout& lb, const std::string& label,
                 std::uint64_t seed) {
  const Host base_a = make_values(dtype, la.base, Values::general, seed),
             base_b = make_values(dtype, lb.base, Values::general, seed + 3);
  const Host a = la.host_view(base_a), b = lb.host_view(base_b);
  cases.push_back(
      {"matmul " + std::string(dtype_name(dtype)) + " " + label, tol::for_dtype(dtype),
       [=](Device d) { return Outputs{capture("out", matmul(input_on(base_a, la, d), input_on(base_b, lb, d)))}; },
       [=](const Outputs&) { return Outputs{matmul_reference(a, b, dtype)}; }});
}

Layout transposed(const Dims& logical) {
  return {"",
          {logical[1], logical[0]},
          [](const Tensor& t) { return t.t(); },
          [](const Host& h) { return transpose(h, 0, 1); }};
}

void index_select_case(Cases& cases, DType dtype, DType index_dtype, const Layout& layout, std::int64_t dim,
                       const std::vector<std::int64_t>& index, std::uint64_t seed) {
  const Host base = make_values(dtype, layout.base, Values::general, seed);
  const Host x = layout.host_view(base);
  std::vector<double> index_values(index.begin(), index.end());
  const Host idx{{static_cast<std::int64_t>(index.size())}, index_dtype, index_values};
  cases.push_back({"index_select " + std::string(dtype_name(dtype)) + " dim " + std::to_string(dim) + " index " +
                       std::string(dtype_name(index_dtype)) + dims_str(idx.shape) + " " + layout.name,
                   tol::exact,
                   [=](Device d) {
                     return Outputs{capture("out", input_on(base, layout, d).index_select(dim, to_tensor(idx).to(d)))};
                   },
                   [=](const Outputs&) {
                     Dims shape = x.shape;
                     shape[static_cast<std::size_t>(dim)] = static_cast<std::int64_t>(index.size());
                     std::vector<double> y(static_cast<std::size_t>(numel_of(shape)));
                     for (std::size_t i = 0; i < y.size(); ++i) {
                       Dims at = unravel(static_cast<std::int64_t>(i), shape);
                       at[static_cast<std::size_t>(dim)] =
                           index[static_cast<std::size_t>(at[static_cast<std::size_t>(dim)])];
                       y[i] = x.at(at);
                     }
                     return Outputs{expect("out", shape, dtype, y)};
                   }});
}

}  // namespace

void add_linalg_cases(Cases& cases) {
  std::uint64_t seed = 11000;
  auto c = [](const Dims& s) { return layout_contiguous(s); };
  for (DType t : {DType::f32, DType::f64, DType::bf16}) {
    matmul_case(cases, t, c({3, 4}), c({4, 5}), "2-d (3,4)x(4,5)", ++seed);
    matmul_case(cases, t, transposed({3, 4}), c({4, 5}), "transposed lhs (4,3).t()x(4,5)", ++seed);
    matmul_case(cases, t, c({3, 4}), transposed({4, 5}), "transposed rhs (3,4)x(5,4).t()", ++seed);
    matmul_case(cases, t, c({2, 3, 4}), c({4, 5}), "batched (2,3,4)x(4,5)", ++seed);
    if (t == DType::bf16) continue;
    matmul_case(cases, t, transposed({3, 4}), transposed({4, 5}), "both transposed (4,3).t()x(5,4).t()", ++seed);
    matmul_case(cases, t, c({4}), c({4}), "1-d dot (4)x(4)", ++seed);
    matmul_case(cases, t, c({4}), c({4, 5}), "1-d x 2-d (4)x(4,5)", ++seed);
    matmul_case(cases, t, c({3, 4}), c({4}), "2-d x 1-d (3,4)x(4)", ++seed);
    matmul_case(cases, t, c({4}), c({2, 4, 5}), "1-d x batched (4)x(2,4,5)", ++seed);
    matmul_case(cases, t, c({2, 1, 3, 4}), c({3, 4, 5}), "broadcast batch (2,1,3,4)x(3,4,5)", ++seed);
    matmul_case(cases, t, c({1, 3, 4}), c({2, 4, 5}), "broadcast batch (1,3,4)x(2,4,5)", ++seed);
    matmul_case(cases, t,
                {"",
                 {2, 3, 8},
                 [](const Tensor& x) { return x.slice(2, 0, 8, 2); },
                 [](const Host& h) { return slice(h, 2, 0, 8, 2); }},
                {"",
                 {2, 5, 4},
                 [](const Tensor& x) { return x.transpose(1, 2); },
                 [](const Host& h) { return transpose(h, 1, 2); }},
                "strided batched (2,3,8)[:,:,::2]x(2,5,4).transpose(1,2)", ++seed);
    matmul_case(cases, t, c({33, 65}), c({65, 17}), "2-d (33,65)x(65,17)", ++seed);
    matmul_case(cases, t, c({3, 0}), c({0, 5}), "zero inner (3,0)x(0,5)", ++seed);
    matmul_case(cases, t, c({0, 4}), c({4, 5}), "zero rows (0,4)x(4,5)", ++seed);
  }

  const Layout cube = layout_contiguous({3, 4, 5});
  const Layout permuted{"permuted (5,3,4)->(3,4,5)",
                        {5, 3, 4},
                        [](const Tensor& t) {
                          return t.permute({1, 2, 0});
                        },
                        [](const Host& h) {
                          return permute(h, {1, 2, 0});
                        }};
  for (DType t : {DType::f32, DType::f64, DType::bf16, DType::i32, DType::i64, DType::u8, DType::boolean})
    for (std::int64_t dim = 0; dim < 3; ++dim) index_select_case(cases, t, DType::i64, cube, dim, {2, 0, 2}, ++seed);
  for (std::int64_t dim = 0; dim < 3; ++dim) {
    index_select_case(cases, DType::f32, DType::i32, permuted, dim, {1, 1, 0, 2}, ++seed);
    index_select_case(cases, DType::f64, DType::i64, permuted, dim, {}, ++seed);
  }
}

}  // namespace dm::conformance
