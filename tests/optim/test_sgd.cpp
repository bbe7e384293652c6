// SGD against a textbook reference written here, over several steps, on every layout.
#include <gtest/gtest.h>

#include <optional>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/optim/optimizer.hpp"
#include "optim_test_util.hpp"

namespace {

using namespace optim_test;
using dm::optim::SGD;
using dm::optim::SGDOptions;

/// torch.optim.SGD's documented algorithm, one parameter at a time, whole vectors at once.
template <class T>
class ReferenceSgd {
 public:
  ReferenceSgd(SGDOptions o, std::size_t n_params) : o_(o), buffers_(n_params) {}

  /// grads[k] empty = no gradient for parameter k this step.
  void step(std::vector<std::vector<T>>& params, const std::vector<std::vector<T>>& grads) {
    for (std::size_t k = 0; k < params.size(); ++k) {
      if (grads[k].empty()) continue;
      std::vector<T>& p = params[k];
      std::vector<T> d = grads[k];
      if (o_.weight_decay != 0)
        for (std::size_t j = 0; j < d.size(); ++j) d[j] += static_cast<T>(o_.weight_decay) * p[j];
      if (o_.momentum != 0) {
        auto& buf = buffers_[k];
        if (!buf) {
          buf = d;
        } else {
          for (std::size_t j = 0; j < d.size(); ++j)
            (*buf)[j] = (*buf)[j] * static_cast<T>(o_.momentum) + static_cast<T>(1 - o_.dampening) * d[j];
        }
        for (std::size_t j = 0; j < d.size(); ++j)
          d[j] = o_.nesterov ? d[j] + static_cast<T>(o_.momentum) * (*buf)[j] : (*buf)[j];
      }
      for (std::size_t j = 0; j < d.size(); ++j) p[j] -= static_cast<T>(o_.lr) * d[j];
    }
  }

 private:
  SGDOptions o_;
  std::vector<std::optional<std::vector<T>>> buffers_;
};

/// Splits flat values into per-parameter vectors.
template <class T>
std::vector<std::vector<T>> split(const std::vector<T>& values, const std::vector<std::pair<std::string, Shape>>& shapes) {
  std::vector<std::vector<T>> out;
  std::size_t offset = 0;
  for (const auto& s : shapes) {
    const auto n = static_cast<std::size_t>(s.second.numel());
    out.emplace_back(values.begin() + static_cast<std::ptrdiff_t>(offset), values.begin() + static_cast<std::ptrdiff_t>(offset + n));
    offset += n;
  }
  return out;
}

template <class T>
std::vector<double> joined(const std::vector<std::vector<T>>& parts) {
  std::vector<double> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const std::vector<SGDOptions> kConfigs = {
    {.lr = 0.1},
    {.lr = 0.05, .momentum = 0.9},
    {.lr = 0.05, .momentum = 0.8, .dampening = 0.3, .weight_decay = 0.01},
    {.lr = 0.02, .momentum = 0.9, .weight_decay = 0.05, .nesterov = true},
    {.lr = 0.1, .weight_decay = 0.2},
};

template <class T>
class SgdTyped : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SgdTyped, FloatTypes);

// Five steps with one flat gradient block each (the fused path), then a step where one
// parameter has no gradient (per-parameter path, and its step count falls behind), then two
// more steps (per-parameter again, as the counts now differ).
TYPED_TEST(SgdTyped, MatchesReferenceOverSteps) {
  using T = TypeParam;
  const auto shapes = small_net();
  const std::int64_t n = total_numel(shapes);
  for (std::size_t c = 0; c < kConfigs.size(); ++c) {
    SCOPED_TRACE("config " + std::to_string(c));
    FlatSet params = make_flat(shapes, random_values<T>(n, 1));
    auto ref_params = split(params.flat.to_vector<T>(), shapes);
    SGD sgd(kConfigs[c]);
    sgd.bind(params.named);
    ReferenceSgd<T> ref(kConfigs[c], shapes.size());
    for (int step = 0; step < 8; ++step) {
      FlatSet grads = make_flat(shapes, random_values<T>(n, 100 + static_cast<std::uint64_t>(step)));
      std::vector<Tensor> g = grads.tensors();
      auto ref_grads = split(grads.flat.to_vector<T>(), shapes);
      if (step == 5) {
        g[1] = Tensor();
        ref_grads[1].clear();
      }
      sgd.step(g);
      ref.step(ref_params, ref_grads);
      expect_close(params.flat.to_vector<T>(), joined(ref_params), "step " + std::to_string(step));
    }
    EXPECT_EQ(sgd.steps(), 8);
  }
}

// The fused loop, the per-parameter loop and the strided write-back path give the same bits.
TYPED_TEST(SgdTyped, FusedEqualsPerParameterBitwise) {
  using T = TypeParam;
  const auto shapes = small_net();
  const std::int64_t n = total_numel(shapes);
  const auto init = random_values<T>(n, 7);
  for (const SGDOptions& o : kConfigs) {
    FlatSet flat = make_flat(shapes, init);
    auto separate = make_separate(shapes, init);
    auto strided = make_strided(shapes, init);
    SGD a(o), b(o), c(o);
    a.bind(flat.named);
    b.bind(separate);
    c.bind(strided);
    for (int step = 0; step < 4; ++step) {
      const auto gv = random_values<T>(n, 50 + static_cast<std::uint64_t>(step));
      a.step(make_flat(shapes, gv).tensors());
      auto sep_grads = make_separate(shapes, gv);
      std::vector<Tensor> g;
      for (auto& [name, t] : sep_grads) g.push_back(t);
      b.step(g);
      c.step(g);
    }
    const auto fused = flat.flat.to_vector<T>();
    EXPECT_TRUE(bitwise_equal(fused, values_of<T>(separate)));
    EXPECT_TRUE(bitwise_equal(fused, values_of<T>(strided)));
    EXPECT_TRUE(bitwise_equal(values_of<T>(a.state()), values_of<T>(b.state())));
  }
}

// Large enough for several parallel blocks, so par_for's split is exercised on the fused path.
TYPED_TEST(SgdTyped, FusedLargeBlockMatchesPerParameter) {
  using T = TypeParam;
  const std::vector<std::pair<std::string, Shape>> shapes = {{"w", Shape{300, 170}}, {"b", Shape{170}}};
  const std::int64_t n = total_numel(shapes);
  const auto init = random_values<T>(n, 3);
  FlatSet flat = make_flat(shapes, init);
  auto separate = make_separate(shapes, init);
  const SGDOptions o{.lr = 0.03, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true};
  SGD a(o), b(o);
  a.bind(flat.named);
  b.bind(separate);
  for (int step = 0; step < 3; ++step) {
    const auto gv = random_values<T>(n, 900 + static_cast<std::uint64_t>(step));
    a.step(make_flat(shapes, gv).tensors());
    std::vector<Tensor> g;
    for (auto& [name, t] : make_separate(shapes, gv)) g.push_back(t);
    b.step(g);
  }
  EXPECT_TRUE(bitwise_equal(flat.flat.to_vector<T>(), values_of<T>(separate)));
}

TEST(Sgd, UpdatesParametersInPlace) {
  const auto shapes = small_net();
  FlatSet params = make_flat(shapes, random_values<float>(total_numel(shapes), 2));
  std::vector<void*> pointers;
  for (const auto& [name, t] : params.named) pointers.push_back(t.data_ptr());
  const auto before = params.flat.to_vector<float>();
  SGD sgd({.lr = 0.1, .momentum = 0.9});
  sgd.bind(params.named);
  sgd.step(make_flat(shapes, random_values<float>(total_numel(shapes), 3)).tensors());
  EXPECT_NE(params.flat.to_vector<float>(), before);
  for (std::size_t i = 0; i < params.named.size(); ++i) {
    EXPECT_EQ(sgd.parameters()[i].second.data_ptr(), pointers[i]);
    EXPECT_TRUE(sgd.parameters()[i].second.shares_storage_with(params.flat));
  }
}

// bf16 parameters are updated in f32 (state in f32) and rounded back on every step.
TEST(Sgd, Bf16ParametersComputeInF32) {
  const std::vector<std::pair<std::string, Shape>> shapes = {{"w", Shape{3, 5}}};
  const auto init = random_values<float>(15, 11);
  Tensor p = Tensor::from_vector(init, Shape{3, 5}).to(DType::bf16);
  SGD sgd({.lr = 0.1, .momentum = 0.9});
  sgd.bind({{"w", p}});
  std::vector<float> ref = p.to_vector<float>();
  std::vector<float> buf;
  for (int step = 0; step < 3; ++step) {
    const Tensor g = Tensor::from_vector(random_values<float>(15, 40 + static_cast<std::uint64_t>(step)), Shape{3, 5}).to(DType::bf16);
    sgd.step({g});
    const auto gv = g.to_vector<float>();
    if (buf.empty()) buf = gv;
    else
      for (std::size_t j = 0; j < gv.size(); ++j) buf[j] = buf[j] * 0.9f + gv[j];
    for (std::size_t j = 0; j < gv.size(); ++j) ref[j] = static_cast<float>(dm::bf16(ref[j] - 0.1f * buf[j]));
    ASSERT_EQ(p.dtype(), DType::bf16);
    EXPECT_EQ(p.to_vector<float>(), ref) << "step " << step;
  }
  EXPECT_EQ(sgd.state()[1].second.dtype(), DType::f32);
}

TEST(Sgd, RejectsBadOptions) {
  EXPECT_THROW(SGD({.lr = 0.1, .momentum = 0.0, .nesterov = true}), dm::ValueError);
  EXPECT_THROW(SGD({.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}), dm::ValueError);
  EXPECT_THROW(SGD({.lr = -0.1}), dm::ValueError);
  EXPECT_THROW(SGD({.lr = 0.1, .momentum = -0.5}), dm::ValueError);
  EXPECT_THROW(SGD({.lr = 0.1, .weight_decay = -1.0}), dm::ValueError);
  EXPECT_NO_THROW(SGD({.lr = 0.1, .momentum = 0.9, .nesterov = true}));
}

TEST(Sgd, RejectsMismatchedGradients) {
  const auto shapes = small_net();
  FlatSet params = make_flat(shapes, random_values<float>(total_numel(shapes), 2));
  SGD sgd({.lr = 0.1});
  sgd.bind(params.named);
  EXPECT_THROW(sgd.step(std::vector<Tensor>(2)), dm::ValueError);
  std::vector<Tensor> grads(4);
  grads[2] = Tensor::zeros({3, 3});
  try {
    sgd.step(grads);
    FAIL() << "expected ShapeError";
  } catch (const dm::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("2.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(2, 4)"), std::string::npos) << e.what();
  }
  grads[2] = Tensor::zeros({2, 4}, DType::i64);
  EXPECT_THROW(sgd.step(grads), dm::DTypeError);
  const auto before = params.flat.to_vector<float>();
  EXPECT_EQ(params.flat.to_vector<float>(), before);  // failed steps changed nothing
  EXPECT_EQ(sgd.steps(), 0);
}

// The optimizer's own writes are never recorded, even with recording on and parameters that
// require grad (as a model's do).
TEST(Sgd, StepsWithoutRecording) {
  Tensor w = Tensor::from_vector(std::vector<float>{1, 2, 3}).set_requires_grad();
  SGD sgd({.lr = 0.5, .momentum = 0.9});
  sgd.bind({{"w", w}});
  w.set_grad(Tensor::from_vector(std::vector<float>{1, 1, 1}));
  sgd.step();
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(dm::is_grad_enabled());
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{0.5f, 1.5f, 2.5f}));
}

}  // namespace
