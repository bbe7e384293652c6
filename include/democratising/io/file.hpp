#pragma once
// Whole-file helpers shared by the file formats: a bounded read, and a crash-safe write that
// replaces the target only once every byte of the new content is on disk.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dm::io {

/// Reads a whole regular file. Throws IoError (naming the path and errno text) when it cannot
/// be opened or read, and FormatError when it is larger than `max_bytes`.
std::vector<std::byte> read_file(const std::string& path, std::size_t max_bytes);

/// Writes a file so that a crash at any point leaves either the old file or the new one,
/// never a mix: the bytes go to "<path>.tmp.<pid>.<random>" in the same directory, which is
/// flushed, fsync'ed and renamed over `path`; the directory is then fsync'ed so the rename
/// itself survives a power loss. Destroying the writer before commit() removes the temporary.
/// Errors throw IoError naming the path and the errno text.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  /// Appends n bytes. Small writes are gathered in a buffer so that a checkpoint of many
  /// small tensors does not cost a system call each.
  void write(const void* data, std::size_t n);
  /// Makes the new content durable and visible under the target path.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void discard() noexcept;
  void flush_buffer();
  void write_all(const std::byte* p, std::size_t n);

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
  std::vector<std::byte> buffer_;
};

/// Crash-safe write of a whole buffer (see AtomicFileWriter).
void write_file_atomic(const std::string& path, const void* data, std::size_t n);

}  // namespace dm::io
