#pragma once
// The error hierarchy. Every failure the library reports is a dm::Error; the subclass says
// which kind of input was wrong, the message names the operation and the values involved,
// e.g. "[matmul] lhs (2, 3) vs rhs (4, 5): inner dimensions differ".
#include <stdexcept>
#include <string>

namespace dm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Shapes that do not fit the operation (mismatch, bad dim, bad index).
class ShapeError : public Error { public: using Error::Error; };
/// A dtype the operation does not accept, or two that cannot be combined.
class DTypeError : public Error { public: using Error::Error; };
/// A device that is absent, not built, or mixed with another in one operation.
class DeviceError : public Error { public: using Error::Error; };
/// A malformed file or frame (safetensors, IDX, protocol).
class FormatError : public Error { public: using Error::Error; };
/// The operating system refused a file or socket operation.
class IoError : public Error { public: using Error::Error; };
/// A collective or a peer failed.
class DistributedError : public Error { public: using Error::Error; };
/// A peer or a resource did not answer in time.
class TimeoutError : public Error { public: using Error::Error; };
/// An argument outside its allowed range (negative size, step of zero, ...).
class ValueError : public Error { public: using Error::Error; };
/// An allocation that cannot be served: larger than any address space, or refused by the system.
class MemoryError : public Error { public: using Error::Error; };

}  // namespace dm
