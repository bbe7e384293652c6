// Bounded whole-file reads that never block on a FIFO, and crash-safe writes (temporary file,
// fsync, rename, fsync dir).
#include "democratising/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include "democratising/base/error.hpp"
#include "save_target.hpp"

namespace dm::io {
namespace {

constexpr std::size_t kBufferBytes = std::size_t{1} << 20;

std::string errno_text(int err) { return std::strerror(err); }

[[noreturn]] void throw_io(const char* op, const std::string& what, const std::string& path, int err) {
  throw IoError(std::string("[") + op + "] " + what + " '" + path + "': " + errno_text(err));
}

// Random suffix so that concurrent writers of one path (threads or processes) never share a
// temporary; O_EXCL below catches the remaining chance of a clash.
std::string random_suffix() {
  static thread_local std::mt19937_64 gen{std::random_device{}() ^ (static_cast<std::uint64_t>(::getpid()) << 32)};
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t r = gen();
  std::string s(detail::kTempRandomChars, '0');
  for (char& c : s) {
    c = kHex[r & 15u];
    r >>= 4;
  }
  return s;
}

// fsync of the directory makes the rename durable. Some file systems cannot sync a directory
// (EINVAL); the rename is then as durable as that file system allows, which is not an error.
void sync_directory(const std::string& dir, const std::string& target) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_io("save", "cannot open the directory of", target, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL && err != ENOTSUP) throw_io("save", "cannot fsync the directory of", target, err);
}

}  // namespace

ReadableFile::ReadableFile(const std::string& path, const char* op) : path_(path), op_(op) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever if none
  // comes. Regular files ignore the flag, and anything else is refused below.
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd_ < 0) throw_io(op, "cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    throw_io(op, "cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw IoError(std::string("[") + op + "] '" + path + "' is not a regular file");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

ReadableFile::~ReadableFile() { ::close(fd_); }

void ReadableFile::read_at(std::uint64_t offset, void* dst, std::size_t n) const {
  auto* p = static_cast<std::byte*>(dst);
  while (n > 0) {
    const ssize_t r = ::pread(fd_, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_io(op_, "cannot read", path_, errno);
    }
    if (r == 0) throw IoError(std::string("[") + op_ + "] '" + path_ + "' shrank while being read");
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
}

std::vector<std::byte> read_file(const std::string& path, std::size_t max_bytes) {
  const ReadableFile file(path, "read");
  if (file.size() > max_bytes)
    throw FormatError("[read] '" + path + "' has " + std::to_string(file.size()) + " bytes, more than the limit of " +
                      std::to_string(max_bytes));
  std::vector<std::byte> bytes(static_cast<std::size_t>(file.size()));
  file.read_at(0, bytes.data(), bytes.size());
  return bytes;
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  detail::require_replaceable(path_);
  detail::remove_stale_temporaries(path_);
  for (int attempt = 0; attempt < 16; ++attempt) {
    temp_path_ = detail::temp_prefix(path_, static_cast<long>(::getpid())) + random_suffix();
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) return;
    if (errno != EEXIST) throw_io("save", "cannot create a temporary file for", path_, errno);
  }
  throw IoError("[save] cannot create a unique temporary file for '" + path_ + "'");
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) discard();
}

void AtomicFileWriter::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

void AtomicFileWriter::write(const void* data, std::size_t n) {
  if (fd_ < 0) throw IoError("[save] write to '" + path_ + "' after commit or failure");
  const auto* p = static_cast<const std::byte*>(data);
  if (buffer_.size() + n <= kBufferBytes) {
    buffer_.insert(buffer_.end(), p, p + n);
    return;
  }
  flush_buffer();
  if (n < kBufferBytes) {
    buffer_.assign(p, p + n);
  } else {
    write_all(p, n);
  }
}

void AtomicFileWriter::flush_buffer() {
  write_all(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFileWriter::write_all(const std::byte* p, std::size_t n) {
  while (n > 0) {
    // Linux writes at most ~2 GiB per call; larger requests come back short and loop.
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      discard();
      throw_io("save", "cannot write", path_, err);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) throw IoError("[save] commit of '" + path_ + "' after commit or failure");
  flush_buffer();
  // Data must be on disk before the rename publishes it, or a crash could expose a file
  // whose name is new but whose blocks were never written.
  if (::fsync(fd_) != 0) {
    const int err = errno;
    discard();
    throw_io("save", "cannot fsync", path_, err);
  }
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) {
    const int err = errno;
    discard();
    throw_io("save", "cannot close", path_, err);
  }
  // Checked again: the target may have changed since the writer was made. What is left is the
  // window of one system call, which only a process that can already write there can use.
  try {
    detail::require_replaceable(path_);
  } catch (...) {
    discard();
    throw;
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    discard();
    throw_io("save", "cannot rename the temporary file over", path_, err);
  }
  committed_ = true;
  temp_path_.clear();
  sync_directory(detail::directory_of(path_), path_);
}

void write_file_atomic(const std::string& path, const void* data, std::size_t n) {
  AtomicFileWriter writer(path);
  writer.write(data, n);
  writer.commit();
}

}  // namespace dm::io
