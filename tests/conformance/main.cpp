// dm_conformance: runs every case of the table on the CPU (against naive reference loops) and
// on each CUDA device (against the CPU). Prints one line per case, then "N passed, M failed".
//
//   dm_conformance [--filter SUBSTR] [--list]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "democratising/base/device.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "harness.hpp"
#include "host.hpp"

namespace dm::conformance {

Tolerance tol::for_dtype(DType t, bool transcendental) {
  switch (t) {
    case DType::f32:
      return transcendental ? f32_transcendental : f32;
    case DType::f64:
      return f64;
    case DType::bf16:
      return bf16;
    default:
      return exact;
  }
}

Output capture(const std::string& name, const Tensor& t) {
  const Tensor host = t.to(Device::cpu());
  return {name, host.shape().vec(), host.dtype(), host.to_vector<double>()};
}

Output expect(const std::string& name, std::vector<std::int64_t> shape, DType dtype, std::vector<double> values) {
  for (double& x : values) x = round_to(dtype, x);
  return {name, std::move(shape), dtype, std::move(values)};
}

namespace {

// What the CUDA backend's DeviceError says for an entry it has no kernel for (cuda_runtime.cpp).
constexpr std::string_view kNoKernelYet = "has no CUDA kernel";

struct Verdict {
  bool pass = true;
  double max_err = 0.0;
  std::string where;  // the worst element, or what did not match
};

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

Verdict compare(const Outputs& got, const Outputs& want, Tolerance tol) {
  Verdict v;
  if (got.size() != want.size())
    return {false, 0.0, std::to_string(got.size()) + " outputs, want " + std::to_string(want.size())};
  double worst_ratio = -1.0;
  for (std::size_t o = 0; o < got.size(); ++o) {
    const Output& g = got[o];
    const Output& w = want[o];
    if (g.shape != w.shape || g.dtype != w.dtype)
      return {false, 0.0,
              w.name + ": got " + dims_str(g.shape) + " " + std::string(dtype_name(g.dtype)) + ", want " +
                  dims_str(w.shape) + " " + std::string(dtype_name(w.dtype))};
    for (std::size_t i = 0; i < w.values.size(); ++i) {
      const double a = g.values[i], b = w.values[i];
      double err = 0.0;
      bool ok;
      if (std::isnan(b) || std::isnan(a)) {
        ok = std::isnan(a) && std::isnan(b);
        err = ok ? 0.0 : INFINITY;
      } else if (std::isinf(b) || std::isinf(a)) {
        ok = a == b;
        err = ok ? 0.0 : INFINITY;
      } else {
        err = std::fabs(a - b);
        ok = err <= tol.atol + tol.rtol * std::fabs(b);
      }
      v.max_err = std::max(v.max_err, err);
      const double ratio = ok ? 0.0 : (std::isinf(err) ? INFINITY : err / (tol.atol + tol.rtol * std::fabs(b)));
      if (!ok && ratio > worst_ratio) {
        worst_ratio = ratio;
        v.pass = false;
        v.where = w.name + dims_str(unravel(static_cast<std::int64_t>(i), w.shape)) + " got " + number(a) + " want " +
                  number(b);
      }
    }
  }
  return v;
}

bool matches(const Case& c, const std::string& device, const std::string& filter) {
  return filter.empty() || c.name.find(filter) != std::string::npos ||
         (device + " " + c.name).find(filter) != std::string::npos;
}

// Runs the library part of a case with the global generator in a fixed state, so that the
// device run and the CPU run draw the same numbers.
Outputs run_case(const Case& c, Device device) {
  manual_seed(1234);
  return c.run(device);
}

struct Tally {
  int passed = 0, failed = 0, expected = 0, skipped = 0;
};

void report(Tally& tally, const std::string& device, const Case& c, const Verdict& v, bool expected_failure) {
  const char* tag = v.pass ? (expected_failure ? "XPASS" : "PASS") : (expected_failure ? "XFAIL" : "FAIL");
  std::printf("%s %s %s max_err=%.3g", tag, device.c_str(), c.name.c_str(), v.max_err);
  if (!v.pass) std::printf(" at %s", v.where.c_str());
  if (expected_failure) std::printf(" [expected to fail: %s]", c.expected_failure.c_str());
  std::printf("\n");
  // An expected failure that passes means the library was fixed: the table must say so.
  if (v.pass != expected_failure) {
    ++tally.passed;
    if (expected_failure) ++tally.expected;
  } else {
    ++tally.failed;
  }
}

Verdict guarded(const std::function<Verdict()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return {false, 0.0, std::string("threw: ") + e.what()};
  }
}

}  // namespace
}  // namespace dm::conformance

int main(int argc, char** argv) {
  using namespace dm::conformance;
  std::string filter;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
    } else if (std::strcmp(argv[i], "--list") == 0) {
      list = true;
    } else {
      std::fprintf(stderr, "usage: %s [--filter SUBSTR] [--list]\n", argv[0]);
      return 2;
    }
  }

  Cases cases;
  add_unary_cases(cases);
  add_binary_cases(cases);
  add_compare_cases(cases);
  add_reduce_cases(cases);
  add_linalg_cases(cases);
  add_copy_cases(cases);
  add_nn_cases(cases);
  add_optim_cases(cases);
  add_conv_cases(cases);
  add_attention_cases(cases);
  add_norm_cases(cases);

  const std::vector<dm::Device> gpus = dm::Device::cuda_all();
  if (list) {
    for (const Case& c : cases)
      if (matches(c, "cpu", filter)) std::printf("%s\n", c.name.c_str());
    return 0;
  }
  if (gpus.empty()) std::printf("# no CUDA device (%s): CPU only\n", dm::cuda::unavailable_reason().c_str());

  const auto start = std::chrono::steady_clock::now();
  Tally tally;
  for (const Case& c : cases) {
    if (matches(c, "cpu", filter)) {
      Outputs cpu_out;
      const Verdict v = guarded([&] {
        cpu_out = run_case(c, dm::Device::cpu());
        return compare(cpu_out, c.reference(cpu_out), c.tolerance);
      });
      report(tally, "cpu", c, v, !c.expected_failure.empty());
    }
    if (c.cpu_only) continue;
    for (const dm::Device& gpu : gpus) {
      const std::string name = gpu.str();
      if (!matches(c, name, filter)) continue;
      // A backend that does not have an op yet says so with a DeviceError naming the missing
      // kernel: the case is skipped there (as ggml's supports_op), not failed, and counted
      // apart. Any other DeviceError (a bad launch, an illegal address) is a failure.
      bool supported = true;
      const Verdict v = guarded([&] {
        Outputs device_out;
        try {
          device_out = run_case(c, gpu);
        } catch (const dm::DeviceError& e) {
          if (std::string_view(e.what()).find(kNoKernelYet) == std::string_view::npos) throw;
          supported = false;
          return Verdict{true, 0.0, e.what()};
        }
        return compare(device_out, run_case(c, dm::Device::cpu()), c.tolerance);
      });
      if (!supported) {
        std::printf("SKIP %s %s (not supported: %s)\n", name.c_str(), c.name.c_str(), v.where.c_str());
        ++tally.skipped;
        continue;
      }
      report(tally, name, c, v, false);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("# %.2f s, %d expected failures among the passed, %d skipped on devices without the op\n", seconds,
              tally.expected, tally.skipped);
  std::printf("%d passed, %d failed\n", tally.passed, tally.failed);
  return tally.failed == 0 ? 0 : 1;
}
