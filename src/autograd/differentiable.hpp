#pragma once
// Records a one-input op on its output when the input is tracked; `make` builds the backward
// function only then, so untracked calls pay one branch.
#include "record.hpp"

namespace dm::autograd {

template <class MakeBackward>
Tensor differentiable(Tensor out, const Tensor& input, const char* name, MakeBackward&& make) {
  if (needs_grad({&input})) record(out, name, {&input}, make());
  return out;
}

}  // namespace dm::autograd
