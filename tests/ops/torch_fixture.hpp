#pragma once
// Reading the PyTorch fixtures of tests/fixtures/ops/ (format: tests/fixtures/README.md): cases, tensors,
// the memory layouts a test builds its inputs in, and the comparison with torch's values.
// Shared by the conformance tests that read those files.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor_impl.hpp"
#include "democratising/core/tensor.hpp"

namespace torch_fixture {

using nlohmann::json;

// ---- fixture files ---------------------------------------------------------------------------

struct FixtureCase {
  std::string name;
  json body;               // {"op", "args", "inputs", "output"}
  std::string load_error;  // set when the file could not be read; the case then fails
};

// gtest prints a failing parameter; the name is enough (the body can be kilobytes).
inline void PrintTo(const FixtureCase& c, std::ostream* os) { *os << c.name; }

inline std::vector<FixtureCase> load_cases(const std::string& file) {
  const std::string path = std::string(DM_TEST_FIXTURES_DIR) + "/ops/" + file;
  try {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    const json doc = json::parse(in);
    std::vector<FixtureCase> cases;
    for (const json& c : doc.at("cases")) cases.push_back({c.at("name").get<std::string>(), c, ""});
    if (cases.empty()) throw std::runtime_error(path + " holds no cases");
    return cases;
  } catch (const std::exception& e) {
    // One failing case instead of none: an unreadable file must not pass by running nothing.
    return {{"load_error", json(), std::string("fixture file ") + path + ": " + e.what()}};
  }
}

inline std::string test_name(const testing::TestParamInfo<FixtureCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

// ---- tensors as the fixtures describe them -------------------------------------------------

struct FixtureTensor {
  std::vector<std::int64_t> shape;
  std::string dtype;                    // "f32", "f64", "i64", "bool": dm::dtype_name spellings
  std::vector<double> reals;            // f32/f64 values (f32 ones exactly representable)
  std::vector<std::int64_t> integers;   // i64 values, bools as 0/1
  bool floating() const { return dtype == "f32" || dtype == "f64"; }
};

inline double decode_real(const json& v) {
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    throw std::runtime_error("unknown special value \"" + s + "\"");
  }
  return v.get<double>();
}

inline FixtureTensor decode_tensor(const json& j) {
  FixtureTensor t;
  t.shape = j.at("shape").get<std::vector<std::int64_t>>();
  t.dtype = j.at("dtype").get<std::string>();
  for (const json& v : j.at("data")) {
    if (t.dtype == "f32") t.reals.push_back(static_cast<float>(decode_real(v)));
    else if (t.dtype == "f64") t.reals.push_back(decode_real(v));
    else if (t.dtype == "i64") t.integers.push_back(v.get<std::int64_t>());
    else if (t.dtype == "bool") t.integers.push_back(v.get<bool>() ? 1 : 0);
    else throw std::runtime_error("unknown dtype \"" + t.dtype + "\"");
  }
  const std::size_t count = t.floating() ? t.reals.size() : t.integers.size();
  if (static_cast<std::int64_t>(count) != dm::Shape(t.shape).numel())
    throw std::runtime_error(std::to_string(count) + " values do not fill shape " + dm::Shape(t.shape).str());
  return t;
}

/// How a test lays an input's values out in memory: fresh and contiguous; a strided view
/// (every stride doubled, storage offset 1, `filler` in the gaps), as a slice with step 2
/// makes; or the transpose of a contiguous tensor of the last two dims swapped, as .t() makes.
enum class Layout { contiguous, strided, transposed };

// Strided: element k of the view lives at storage[1 + 2k], the other slots hold `filler`.
// Transposed (tensors of 2 or more dims; others stay contiguous): the storage holds the values
// with the last two dims swapped, and the view swaps them back.
template <class T>
dm::Tensor build(const std::vector<T>& values, const dm::Shape& shape, Layout layout, T filler) {
  if (layout == Layout::contiguous || (layout == Layout::transposed && shape.size() < 2))
    return dm::Tensor::from_vector(values, shape);
  if (layout == Layout::transposed) {
    const int nd = shape.size();
    dm::Shape swapped = shape;
    std::swap(swapped[nd - 1], swapped[nd - 2]);
    const std::int64_t rows = shape[nd - 2], cols = shape[nd - 1];
    std::vector<T> storage(values.size());
    for (std::size_t k = 0; k < values.size(); ++k) {  // k: row-major index into `shape`
      const auto i = static_cast<std::int64_t>(k);
      const std::int64_t matrix = i / (rows * cols), r = i / cols % rows, c = i % cols;
      storage[static_cast<std::size_t>(matrix * rows * cols + c * rows + r)] = values[k];
    }
    const dm::Tensor base = dm::Tensor::from_vector(storage, swapped);
    dm::Strides strides = base.strides();
    std::swap(strides[nd - 1], strides[nd - 2]);
    return dm::make_view(base, shape, strides, 0);
  }
  std::vector<T> storage(2 * values.size() + 1, filler);
  for (std::size_t k = 0; k < values.size(); ++k) storage[1 + 2 * k] = values[k];
  const dm::Tensor base = dm::Tensor::from_vector(storage);
  dm::Strides strides = dm::contiguous_strides(shape);
  for (std::int64_t& s : strides) s *= 2;
  return dm::make_view(base, shape, strides, 1);
}

inline dm::Tensor build_input(const FixtureTensor& t, Layout layout) {
  const dm::Shape shape(t.shape);
  if (t.dtype == "f32") {
    return build(std::vector<float>(t.reals.begin(), t.reals.end()), shape, layout,
                 std::numeric_limits<float>::quiet_NaN());
  }
  if (t.dtype == "f64") return build(t.reals, shape, layout, std::numeric_limits<double>::quiet_NaN());
  if (t.dtype == "i64") return build(t.integers, shape, layout, std::int64_t{-777777});
  std::vector<bool> flags(t.integers.begin(), t.integers.end());
  return build(flags, shape, layout, true);
}

// ---- comparison ------------------------------------------------------------------------------

struct Tolerance {
  double rtol, atol;
};

// PyTorch's assert_close defaults for f32; the f64 expectations are correctly rounded, so the
// f64 bound only has to allow for a kernel's own rounding.
inline Tolerance tolerance_for(const std::string& dtype) {
  if (dtype == "f32") return {1.3e-6, 1e-5};
  return {1e-7, 1e-7};
}

inline bool reals_match(double got, double want, Tolerance tol) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return got == want;
  return std::abs(got - want) <= tol.atol + tol.rtol * std::abs(want);
}

template <class T>
std::string join_values(const std::vector<T>& values, int precision, std::size_t limit = 24) {
  std::ostringstream os;
  os.precision(precision);
  os << "[";
  for (std::size_t i = 0; i < values.size() && i < limit; ++i) os << (i ? ", " : "") << values[i];
  if (values.size() > limit) os << ", ... (" << values.size() << " values)";
  os << "]";
  return os.str();
}

// Compares values in row-major order; returns an empty string on a match, else a report. With
// `signed_zeros`, a zero must also carry the expected sign (-0.0 is not +0.0).
inline std::string compare_values(const dm::Tensor& got, const FixtureTensor& want, bool signed_zeros = false) {
  std::ostringstream report;
  report.precision(want.dtype == "f64" ? 17 : 9);  // enough digits to tell neighbours apart
  int mismatches = 0;
  auto note = [&](std::size_t i, auto g, auto w) {
    if (++mismatches <= 8) report << "\n  [" << i << "] got " << g << ", want " << w;
  };
  if (want.floating()) {
    const Tolerance tol = tolerance_for(want.dtype);
    const std::vector<double> values = got.to_vector<double>();
    for (std::size_t i = 0; i < values.size(); ++i)
      if (!reals_match(values[i], want.reals[i], tol) ||
          (signed_zeros && want.reals[i] == 0.0 && std::signbit(values[i]) != std::signbit(want.reals[i])))
        note(i, values[i], want.reals[i]);
    if (mismatches) report << "\n  observed " << join_values(values, static_cast<int>(report.precision()));
  } else {
    std::vector<std::int64_t> values;
    if (want.dtype == "bool") {
      for (bool b : got.to_vector<bool>()) values.push_back(b ? 1 : 0);
    } else {
      values = got.to_vector<std::int64_t>();
    }
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i] != want.integers[i]) note(i, values[i], want.integers[i]);
    if (mismatches) report << "\n  observed " << join_values(values, static_cast<int>(report.precision()));
  }
  if (!mismatches) return {};
  return std::to_string(mismatches) + " of " + std::to_string(got.numel()) + " values differ" + report.str();
}

inline void expect_matches(const dm::Tensor& got, const FixtureTensor& want, const char* what,
                           bool signed_zeros = false) {
  ASSERT_TRUE(got.defined()) << what << ": undefined tensor";
  ASSERT_EQ(got.shape(), dm::Shape(want.shape))
      << what << ": shape " << got.shape().str() << ", want " << dm::Shape(want.shape).str();
  ASSERT_EQ(std::string(dm::dtype_name(got.dtype())), want.dtype) << what << ": dtype";
  const std::string diff = compare_values(got, want, signed_zeros);
  EXPECT_TRUE(diff.empty()) << what << ": " << diff;
}

inline const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::contiguous: return "contiguous inputs";
    case Layout::strided: return "strided inputs (stride x2, offset 1)";
    case Layout::transposed: return "transposed inputs (last two dims swapped in memory)";
  }
  return "?";
}

}  // namespace torch_fixture
