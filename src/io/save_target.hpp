#pragma once
// What a crash-safe save may replace, and the leftovers it tidies: AtomicFileWriter writes
// "<path>.tmp.<pid>.<12 hex digits>" and renames it over <path>.
#include <cstddef>
#include <string>

namespace dm::io::detail {

/// Hex digits of the random part of a temporary's name.
inline constexpr std::size_t kTempRandomChars = 12;

/// "<path>.tmp.<pid>.": the name of every temporary of `path` written by process `pid` starts so.
std::string temp_prefix(const std::string& path, long pid);

/// The directory part of `path` ("." when it has none).
std::string directory_of(const std::string& path);

/// Throws IoError "[save] ..." unless `path` is absent, a regular file, or a symbolic link to a
/// regular file or to nothing. rename() replaces whatever the name holds, so without this
/// check a save to /dev/null (run as root) or to a FIFO would swap a regular file in for it.
void require_replaceable(const std::string& path);

/// Removes the temporaries of `path` whose writing process no longer exists (killed mid-save).
/// Best effort: a leftover that cannot be removed stays, and the save goes on.
void remove_stale_temporaries(const std::string& path);

}  // namespace dm::io::detail
