// Version counters: every in-place write is counted on the storage, and backward() refuses to
// run on values that changed after the graph read them, instead of returning a gradient of
// values the forward pass never saw.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/democratising.hpp"

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using dm::Tensor;

Tensor leaf(std::vector<double> v) {
  auto t = Tensor::from_vector(v);
  t.set_requires_grad();
  return t;
}

template <class E = dm::Error, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

TEST(Version, EveryInPlaceOpCountsOnceAndViewsShareTheCount) {
  Tensor t = Tensor::zeros({2, 3}, dm::DType::f64);
  Tensor view = t.slice(1, 0, 2);
  const std::vector<std::function<void()>> writes = {
      [&] { t.add_(1.0); },          [&] { t.sub_(1.0); },
      [&] { t.mul_(2.0); },          [&] { t.div_(2.0); },
      [&] { t.add_(Tensor::ones({3}, dm::DType::f64)); },
      [&] { t.mul_(t); },            [&] { t.pow_(2.0); },
      [&] { t.neg_(); },             [&] { t.abs_(); },
      [&] { t.exp_(); },             [&] { t.log_(); },
      [&] { t.sqrt_(); },            [&] { t.relu_(); },
      [&] { t.sigmoid_(); },         [&] { t.tanh_(); },
      [&] { t.clamp_(-1.0, 1.0); },  [&] { t.fill_(0.5); },
      [&] { t.zero_(); },            [&] { t.transpose(0, 1).zero_(); },  // the strided path of zero_
      [&] { t.copy_(Tensor::ones({2, 3}, dm::DType::f64)); },
      [&] { view.mul_(3.0); },  // through a view: the storage is the same
  };
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const std::uint64_t before = t.version();
    writes[i]();
    EXPECT_EQ(t.version(), before + 1) << "write " << i;
    EXPECT_EQ(view.version(), t.version()) << "write " << i;
  }
  // Reading and computing new tensors write nothing.
  const std::uint64_t settled = t.version();
  const Tensor computed = (t * 2.0 + view.sum()).exp();
  EXPECT_EQ(t.version(), settled);
  EXPECT_EQ(computed.version(), 0u);
  // A clone is new memory with its own count.
  Tensor copy = t.clone();
  copy.add_(1.0);
  EXPECT_EQ(t.version(), settled);
  EXPECT_EQ(copy.version(), 1u);
}

TEST(Version, SavedInputChangedInPlaceRefusesBackward) {
  // The reproduction: r = q * q saves q; changing q afterwards gave 800 instead of 8.
  auto p = leaf({1.0});
  auto q = p * 2.0;
  auto r = q * q;
  q.mul_(100.0);
  const std::string message = error_of<dm::ValueError>([&] { r.sum().backward(); });
  EXPECT_THAT(message, AllOf(HasSubstr("[backward]"), HasSubstr("mul"), HasSubstr("(1,)"),
                             HasSubstr("version 0 then, 1 now")));
  // Refused before anything ran: no gradient reached the leaf.
  EXPECT_FALSE(p.grad().defined());
  // autograd::grad applies the same rule.
  EXPECT_THROW(dm::autograd::grad(r.sum(), {p}), dm::ValueError);
}

TEST(Version, ChangeUnderNoGradGuardIsRefusedToo) {
  auto p = leaf({1.0, 2.0});
  auto q = p.tanh();  // tanh's gradient reads its output
  auto loss = (q * 3.0).sum();
  {
    dm::NoGradGuard no_grad;
    q.add_(1.0);
  }
  EXPECT_THAT(error_of<dm::ValueError>([&] { loss.backward(); }), AllOf(HasSubstr("tanh"), HasSubstr("(2,)")));
}

TEST(Version, ChangeTheBackwardDoesNotReadIsAllowed) {
  // add and sum read no values in backward, so changing q after r was made leaves dr/dp as it
  // was: the gradient of what was computed (torch agrees).
  auto p = leaf({1.0, -2.0});
  auto q = p * 2.0;
  auto r = (q + 1.0).sum();
  q.mul_(100.0);
  r.backward();
  EXPECT_EQ(p.grad().to_vector<double>(), (std::vector<double>{2.0, 2.0}));
}

TEST(Version, ChangedInputUsedAfterwardsRefusesBackward) {
  // The in-place op is not recorded: a gradient through q's node would ignore the * 100 that
  // the loss went through (2 instead of 200).
  auto p = leaf({1.0});
  auto q = p * 2.0;
  q.mul_(100.0);
  auto loss = q.sum();
  EXPECT_THAT(error_of<dm::ValueError>([&] { loss.backward(); }),
              AllOf(HasSubstr("sum"), HasSubstr("after mul computed it"), HasSubstr("version 0 then, 1 when")));
  // Backward straight from the changed tensor is refused as well.
  EXPECT_THAT(error_of<dm::ValueError>([&] { q.backward(Tensor::ones({1}, dm::DType::f64)); }),
              AllOf(HasSubstr("output of mul"), HasSubstr("version 0 then, 1 now")));
  EXPECT_FALSE(p.grad().defined());
}

TEST(Version, ChangeThroughAViewIsSeen) {
  // Writing a slice changes q's memory; sum(q) then depends on the * 10, which no node knows.
  auto p = leaf({1.0, 2.0, 3.0, 4.0});
  auto q = p * 2.0;
  q.slice(0, 0, 2).mul_(10.0);
  EXPECT_THROW(q.sum().backward(), dm::ValueError);
  // And a view taken before the write, used after it.
  auto q2 = p * 2.0;
  auto head = q2.slice(0, 0, 2);
  q2.add_(1.0);
  EXPECT_THROW((head * head).sum().backward(), dm::ValueError);
  EXPECT_FALSE(p.grad().defined());
}

TEST(Version, SavedOperandOnlyWhereItsGradientIsWanted) {
  // a * b reads b for a's gradient and a for b's. With c constant and w a parameter, w's
  // gradient reads c: changing c is refused, changing w (read by nobody) is not.
  auto w = leaf({1.0, 2.0});
  Tensor c = Tensor::from_vector(std::vector<double>{3.0, 4.0});
  auto y = (c * w).sum();  // dy/dw = c, reads c
  c.mul_(2.0);
  EXPECT_THROW(y.backward(), dm::ValueError);

  Tensor d = Tensor::from_vector(std::vector<double>{3.0, 4.0});
  auto z = (d * w).sum();
  {
    dm::NoGradGuard no_grad;
    w.mul_(10.0);  // an optimizer-style update of a parameter z's backward does not read
  }
  z.backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{3.0, 4.0}));
}

TEST(InPlace, LeafThatRequiresGradIsRefusedWhileRecording) {
  auto w = leaf({1.0, -2.0, 3.0});
  const std::vector<std::pair<const char*, std::function<void()>>> writes = {
      {"add_", [&] { w.add_(1.0); }},
      {"mul_", [&] { w.mul_(Tensor::ones({3}, dm::DType::f64)); }},
      {"relu_", [&] { w.relu_(); }},
      {"clamp_", [&] { w.clamp_(0.0, 1.0); }},
      {"zero_", [&] { w.zero_(); }},
      {"fill_", [&] { w.fill_(7.0); }},
      {"copy_", [&] { w.copy_(Tensor::zeros({3}, dm::DType::f64)); }},
  };
  for (const auto& [op, write] : writes) {
    EXPECT_THAT(error_of<dm::ValueError>(write), AllOf(HasSubstr(std::string("[") + op + "]"), HasSubstr("(3,)"),
                                                       HasSubstr("requires grad")));
  }
  // Refused before writing: values and version untouched.
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{1.0, -2.0, 3.0}));
  EXPECT_EQ(w.version(), 0u);
  {
    dm::NoGradGuard no_grad;  // how optimizers update
    w.add_(1.0);
  }
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{2.0, -1.0, 4.0}));
  EXPECT_EQ(w.version(), 1u);
  // A leaf that requires no grad, and a detached handle, are plain memory.
  Tensor plain = Tensor::ones({2});
  plain.mul_(3.0);
  w.detach().mul_(2.0);
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{4.0, -2.0, 8.0}));
}

TEST(InPlace, RecordedViewOfALeafIsRefusedWhileRecording) {
  // The view is not a leaf, but writing it writes the parameter: x * w would then be
  // differentiated at the new w for the uses recorded before the write.
  auto w = leaf({1.0, 2.0, 3.0});
  auto uses_old = (w * w).sum();
  EXPECT_THAT(error_of<dm::ValueError>([&] { w.slice(0, 0, 2).mul_(10.0); }), HasSubstr("a view of a leaf"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { w.slice(0, 1, 3).zero_(); }), HasSubstr("[zero_]"));
  EXPECT_EQ(w.version(), 0u);
  uses_old.backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{2.0, 4.0, 6.0}));
}

TEST(InPlace, OperandThatRequiresGradIsRefusedWhileRecording) {
  // buffer += p would not be recorded, so p's share of anything computed from buffer would be
  // lost: d/dp sum(buffer * p) would come out as buffer instead of buffer + p * 2.
  auto p = leaf({1.0, 2.0});
  Tensor buffer = Tensor::zeros({2}, dm::DType::f64);
  EXPECT_THAT(error_of<dm::ValueError>([&] { buffer.add_(p * 2.0); }), AllOf(HasSubstr("[add_]"), HasSubstr("operand")));
  EXPECT_THAT(error_of<dm::ValueError>([&] { buffer.copy_(p); }), HasSubstr("[copy_]"));
  EXPECT_EQ(buffer.to_vector<double>(), (std::vector<double>{0.0, 0.0}));
  dm::NoGradGuard no_grad;
  buffer.add_(p);
  EXPECT_EQ(buffer.to_vector<double>(), (std::vector<double>{1.0, 2.0}));
}

}  // namespace
