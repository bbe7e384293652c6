#pragma once
// Whole-file helpers shared by the file formats: a bounded read, and a crash-safe write that
// replaces the target only once every byte of the new content is on disk.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dm::io {

/// A regular file opened for reading. The open never blocks: a FIFO or a device named where a
/// file is expected would otherwise wait forever for a writer; such a path is an IoError
/// "[op] '<path>' is not a regular file" at once, as is a directory.
class ReadableFile {
 public:
  /// Throws IoError naming `op`, the path and the errno text when it cannot be opened.
  ReadableFile(const std::string& path, const char* op);
  ~ReadableFile();
  ReadableFile(const ReadableFile&) = delete;
  ReadableFile& operator=(const ReadableFile&) = delete;

  /// The size when opened.
  std::uint64_t size() const { return size_; }
  /// Reads exactly n bytes at `offset`; IoError when the file is shorter or the read fails.
  void read_at(std::uint64_t offset, void* dst, std::size_t n) const;

 private:
  std::string path_;
  const char* op_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

/// Reads a whole regular file (see ReadableFile). Throws IoError (naming the path and errno
/// text) when it cannot be opened or read, and FormatError when it is larger than `max_bytes`.
std::vector<std::byte> read_file(const std::string& path, std::size_t max_bytes);

/// Writes a file so that a crash at any point leaves either the old file or the new one,
/// never a mix: the bytes go to "<path>.tmp.<pid>.<random>" in the same directory, which is
/// flushed, fsync'ed and renamed over `path`; the directory is then fsync'ed so the rename
/// itself survives a power loss. Destroying the writer before commit() removes the temporary.
/// Errors throw IoError naming the path and the errno text.
///
/// Only a regular file is ever replaced: an existing target that is a directory, a FIFO, a
/// device (such as /dev/null) or a socket, or a symbolic link to one, is an IoError, checked
/// when the writer is made and again just before the rename. A writer also removes the
/// temporaries of `path` that writers killed mid-save left behind (their process is gone).
class AtomicFileWriter {
 public:
  /// Opens the temporary file beside `path`.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  /// Appends n bytes. Small writes are gathered in a buffer so that a checkpoint of many
  /// small tensors does not cost a system call each.
  void write(const void* data, std::size_t n);
  /// Makes the new content durable and visible under the target path.
  void commit();

  /// The file that commit() replaces.
  const std::string& path() const { return path_; }
  /// The temporary file the bytes go to until commit().
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
