// Checks on the target of a save, and removal of temporaries that killed writers left behind.
#include "save_target.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>

#include "democratising/base/error.hpp"

namespace dm::io::detail {
namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "of another kind";
}

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
  throw IoError("[save] '" + path + "' " + what + ", not a regular file: a save replaces only regular files");
}

// "<digits>.<kTempRandomChars hex digits>" after the "<base>.tmp." part of a name; the pid
// goes to *pid.
bool parse_temp_tail(const std::string& tail, long* pid) {
  const auto dot = tail.find('.');
  if (dot == 0 || dot == std::string::npos || dot > 9) return false;  // pids have at most 7 digits on Linux
  long value = 0;
  for (std::size_t i = 0; i < dot; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(tail[i]))) return false;
    value = value * 10 + (tail[i] - '0');
  }
  const std::string random = tail.substr(dot + 1);
  if (random.size() != kTempRandomChars) return false;
  for (char c : random)
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return false;
  *pid = value;
  return true;
}

bool process_exists(long pid) {
  if (pid <= 0) return true;  // not a writer's pid: leave the file alone
  // EPERM: the process exists but belongs to someone else.
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

}  // namespace

std::string temp_prefix(const std::string& path, long pid) { return path + ".tmp." + std::to_string(pid) + "."; }

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void require_replaceable(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;  // a new file
    throw IoError("[save] cannot inspect '" + path + "': " + std::strerror(errno));
  }
  if (S_ISREG(st.st_mode)) return;
  if (!S_ISLNK(st.st_mode)) refuse(path, std::string("is ") + kind_of(st.st_mode));
  // A link: rename replaces the link itself, but the caller meant what it points to.
  struct stat target {};
  if (::stat(path.c_str(), &target) != 0) {
    if (errno == ENOENT) return;  // dangling: the save creates a regular file in its place
    throw IoError("[save] cannot follow the symbolic link '" + path + "': " + std::strerror(errno));
  }
  if (!S_ISREG(target.st_mode)) refuse(path, std::string("is a symbolic link to ") + kind_of(target.st_mode));
}

void remove_stale_temporaries(const std::string& path) {
  const std::string dir = directory_of(path);
  const auto slash = path.find_last_of('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) return;
  const std::string prefix = base + ".tmp.";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  const long self = static_cast<long>(::getpid());
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    long pid = 0;
    if (!parse_temp_tail(name.substr(prefix.size()), &pid)) continue;
    if (pid == self || process_exists(pid)) continue;  // a save in progress, maybe on another thread
    struct stat st {};
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    ::unlinkat(::dirfd(d), name.c_str(), 0);
  }
  ::closedir(d);
}

}  // namespace dm::io::detail
