#pragma once
// Shared by the examples: the --small flag (CTest runs every example at small sizes) and a
// check that makes an example fail loudly instead of printing a wrong answer.
#include <cstdlib>
#include <iostream>
#include <string_view>

namespace example {

inline bool small_run(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--small") return true;
  return false;
}

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "check failed: " << what << '\n';
    std::exit(1);
  }
}

}  // namespace example
