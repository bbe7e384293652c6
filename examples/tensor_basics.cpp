// Tensors: creation, dtypes, devices, views, broadcasting, printing and the errors a bad call
// gets. Every block of docs/basics.md comes from here; each claim the page makes is checked.
#include <cmath>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void creation() {
  // [docs:basics-create]
  dm::manual_seed(0);  // every random draw below is the same on every run
  dm::Tensor zeros = dm::Tensor::zeros({2, 3});                 // f32 on the CPU unless told otherwise
  dm::Tensor ones = dm::Tensor::ones({2, 3}, dm::DType::f64);
  dm::Tensor counting = dm::Tensor::arange(6.0).reshape({2, 3});  // 0, 1, ..., 5
  dm::Tensor values = dm::Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  dm::Tensor noise = dm::Tensor::randn({2, 3});                 // standard normal
  dm::Tensor half = dm::Tensor::scalar(0.5);                    // 0-d: one value, no dims

  std::cout << counting.shape() << ' ' << counting.dim() << ' ' << counting.numel() << ' '
            << dm::dtype_name(counting.dtype()) << ' ' << counting.device() << '\n';  // (2, 3) 2 6 f32 cpu
  float total = values.sum().item<float>();                     // 21: sum() is a 0-d tensor
  std::vector<float> flat = counting.to_vector<float>();        // row-major: 0 1 2 3 4 5
  // [/docs:basics-create]

  example::check(zeros.shape() == std::vector<std::int64_t>{2, 3} && zeros.dtype() == dm::DType::f32,
                 "zeros is (2, 3) f32");
  example::check(ones.dtype() == dm::DType::f64 && ones.sum().item<double>() == 6.0, "ones is f64 and sums to 6");
  example::check(counting.dim() == 2 && counting.numel() == 6, "counting has 2 dims and 6 elements");
  example::check(total == 21.0f, "the values sum to 21");
  example::check(flat == std::vector<float>{0, 1, 2, 3, 4, 5}, "arange counts from 0 in row-major order");
  example::check(noise.shape() == std::vector<std::int64_t>{2, 3}, "randn has the shape asked for");
  example::check(half.dim() == 0 && half.item<double>() == 0.5, "a scalar is 0-d");
  dm::manual_seed(0);
  example::check(dm::Tensor::randn({2, 3}).to_vector<float>() == noise.to_vector<float>(), "the same seed gives the same draw");
}

void dtypes() {
  // [docs:basics-dtypes]
  dm::Tensor counts = dm::Tensor::from_vector(std::vector<std::int32_t>{1, 2, 3});  // i32
  dm::Tensor scale = dm::Tensor::full({3}, 0.5);                                   // f32
  dm::Tensor scaled = counts * scale;               // i32 * f32 -> f32, as in PyTorch
  dm::Tensor precise = scaled.to(dm::DType::f64);   // an explicit conversion (a copy)
  dm::Tensor compact = scaled.to(dm::DType::bf16);  // stored in 2 bytes, computed in f32
  dm::Tensor mask = scaled.gt(1.0);                 // comparisons give bool
  // [/docs:basics-dtypes]

  example::check(scaled.dtype() == dm::DType::f32, "i32 * f32 gives f32");
  example::check(scaled.to_vector<float>() == std::vector<float>{0.5f, 1.0f, 1.5f}, "the promoted product");
  example::check(precise.dtype() == dm::DType::f64 && dm::itemsize(precise.dtype()) == 8, "f64 takes 8 bytes");
  example::check(dm::itemsize(compact.dtype()) == 2 && compact.to_vector<float>() == scaled.to_vector<float>(),
                 "bf16 holds these values exactly in 2 bytes");
  example::check(mask.dtype() == dm::DType::boolean && mask.to_vector<bool>() == std::vector<bool>{false, false, true},
                 "comparisons give bool");
  example::check(dm::promote_types(dm::DType::i64, dm::DType::bf16) == dm::DType::bf16, "the promotion lattice");
}

void devices() {
  // [docs:basics-devices]
  dm::Tensor host = dm::Tensor::ones({4});                                   // dm::Device::cpu()
  dm::Tensor stage = dm::Tensor::ones({4}, dm::DType::f32, dm::Device::cpu(1));  // a logical CPU device
  dm::Tensor moved = host.to(dm::Device::cpu(1));    // an explicit copy to another device
  dm::Tensor sum = moved + stage;                    // both on cpu:1: fine
  std::cout << sum.device() << '\n';                 // cpu:1
  // [/docs:basics-devices]
  example::check(sum.device() == dm::Device::cpu(1) && sum.sum().item<float>() == 8.0f, "the sum is on cpu:1");
  example::check(host.device().str() == "cpu" && stage.device().str() == "cpu:1", "devices print as cpu, cpu:1");
}

void views() {
  // [docs:basics-views]
  dm::Tensor m = dm::Tensor::arange(12.0).reshape({3, 4});  // [[0 1 2 3] [4 5 6 7] [8 9 10 11]]
  dm::Tensor middle = m.narrow(0, 1, 1);                    // row 1, shape (1, 4): a view
  dm::Tensor columns = m.slice(1, 0, 4, 2);                 // columns 0 and 2, shape (3, 2): a view
  dm::Tensor mt = m.transpose(0, 1);                        // shape (4, 3), strides swapped: a view
  bool shared = mt.shares_storage_with(m);                  // true: no data was copied
  bool dense = mt.is_contiguous();                          // false: rows of mt are not adjacent
  dm::Tensor packed = mt.contiguous();                      // a row-major copy of mt
  dm::Tensor flat = mt.reshape({12});                       // copies, since no view can do it
  middle.fill_(-1.0);                                       // writes through the view into m
  // [/docs:basics-views]

  example::check(middle.shape() == std::vector<std::int64_t>{1, 4} && columns.shape() == std::vector<std::int64_t>{3, 2},
                 "narrow and slice give the shapes shown");
  example::check(columns.to_vector<float>() == std::vector<float>{0, 2, -1, -1, 8, 10},
                 "the sliced columns, row 1 written through `middle`: views share their elements");
  example::check(shared && !dense, "transpose is a strided view of the same storage");
  example::check(packed.is_contiguous() && !packed.shares_storage_with(m), "contiguous() copied");
  example::check(flat.to_vector<float>() == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11},
                 "reshape keeps the transposed order");
  example::check(m.to_vector<float>()[4] == -1.0f && m.to_vector<float>()[7] == -1.0f, "fill_ wrote into m's row 1");
  example::check(packed.to_vector<float>()[1] == 4.0f, "the copy kept the values from before fill_");
  bool refused = false;
  try {
    (void)mt.view({12});  // view() never copies: a transposed tensor cannot be flattened as a view
  } catch (const dm::ShapeError&) {
    refused = true;
  }
  example::check(refused, "view() refuses what only a copy can do");
}

void broadcasting() {
  // [docs:basics-broadcast]
  dm::Tensor column = dm::Tensor::from_vector(std::vector<float>{10, 20, 30}, {3, 1});
  dm::Tensor row = dm::Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 4});
  dm::Tensor grid = column + row;              // (3, 1) + (1, 4) -> (3, 4): grid[i][j] = column[i] + row[j]
  dm::Tensor shifted = grid - grid.mean({0});  // (3, 4) - (4): subtract each column's mean
  dm::Tensor affine = grid * 2.0 + 1.0;        // scalars broadcast too
  std::cout << grid << '\n';
  // [/docs:basics-broadcast]

  example::check(grid.shape() == std::vector<std::int64_t>{3, 4}, "(3, 1) + (1, 4) broadcast to (3, 4)");
  example::check(grid.to_vector<float>()[6] == 23.0f, "grid[1][2] = 20 + 3");
  example::check(std::abs(shifted.sum().item<float>()) < 1e-4f, "the centred columns sum to 0");
  example::check(affine.to_vector<float>()[0] == 23.0f, "2 * 11 + 1");
  example::check(dm::broadcast_shapes({3, 1}, {1, 4}) == std::vector<std::int64_t>{3, 4}, "broadcast_shapes agrees");
  std::ostringstream printed;
  printed << grid;
  example::check(printed.str() ==
                     "tensor([[11.0000, 12.0000, 13.0000, 14.0000],\n"
                     "        [21.0000, 22.0000, 23.0000, 24.0000],\n"
                     "        [31.0000, 32.0000, 33.0000, 34.0000]], shape=(3, 4), dtype=f32, device=cpu)",
                 "a tensor prints its values, shape, dtype and device");
}

void errors() {
  // [docs:basics-errors]
  std::string shape_message, dtype_message, device_message;
  bool caught_as_error = false;
  try {
    dm::Tensor::ones({2, 3}).matmul(dm::Tensor::ones({4, 5}));
  } catch (const dm::ShapeError& e) {
    shape_message = e.what();  // names the op and both shapes
  }
  try {
    dm::Tensor::ones({2, 2}).matmul(dm::Tensor::ones({2, 2}, dm::DType::f64));
  } catch (const dm::DTypeError& e) {
    dtype_message = e.what();  // matmul wants one dtype: convert one side with .to()
  }
  try {
    dm::Tensor::ones({2}) + dm::Tensor::ones({2}, dm::DType::f32, dm::Device::cpu(1));
  } catch (const dm::DeviceError& e) {
    device_message = e.what();  // never a silent copy
  }
  try {
    dm::Tensor::ones({2, 3}) + dm::Tensor::ones({4});
  } catch (const dm::Error& e) {  // every error of the library is a dm::Error
    caught_as_error = true;
    std::cerr << "could not add: " << e.what() << '\n';
  }
  // [/docs:basics-errors]
  std::cout << shape_message << '\n' << dtype_message << '\n' << device_message << '\n';
  example::check(contains(shape_message, "[matmul] lhs (2, 3) vs rhs (4, 5)"), "the ShapeError names the op and shapes");
  example::check(contains(dtype_message, "f32") && contains(dtype_message, "f64"), "the DTypeError names both dtypes");
  example::check(contains(device_message, "cpu:1"), "the DeviceError names the devices");
  example::check(caught_as_error, "a broadcasting clash is a dm::Error");
}

}  // namespace

int main() {
  creation();
  dtypes();
  devices();
  views();
  broadcasting();
  errors();
  std::cout << "tensor basics: all checks passed\n";
  return 0;
}
