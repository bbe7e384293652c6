#pragma once
// Which compiled variant of the elementwise loops this CPU runs.

namespace dm::cpu {

/// Whether the AVX2+FMA loops (and 32-byte streaming stores) run here: checked once per
/// process, and false while a test has called force_baseline_simd(true).
bool has_avx2_fma();

}  // namespace dm::cpu
