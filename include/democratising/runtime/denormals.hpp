#pragma once
// Subnormal floats (below 1.2e-38 in f32, 2.2e-308 in f64) are slow on x86: an operation that
// reads or produces one can take a hundred times longer than one on normal numbers. Training
// makes them: a confident classifier's softmax gives probabilities near e^-90, and their
// gradients and the optimizer's running averages follow them down. On the cnn of `dm train`
// (Adam), they made each epoch after the first 20-25% slower.
//
//   dm::flush_denormals(true);   // at the start of main, before the first op
//
// turns on flush-to-zero (results that would be subnormal become 0) and denormals-are-zero
// (subnormal inputs read as 0) for the calling thread. Threads started by it afterwards,
// the pool's workers among them, inherit the mode: call it before anything starts a thread,
// so every thread computes alike and results stay independent of the thread count. The change
// to the numbers is below what f32 or f64 can hold next to a normal value: PyTorch offers the
// same switch (torch.set_flush_denormal), off by default as here; the dm tool turns it on.
namespace dm {

/// Sets (true) or clears (false) flush-to-zero and denormals-are-zero on the calling thread;
/// false where the CPU has no such mode (then nothing changes).
bool flush_denormals(bool on);

/// Whether the calling thread flushes subnormals to zero.
bool flushing_denormals();

}  // namespace dm
