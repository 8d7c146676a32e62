#include "libcore/util/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace core::util {

Result<std::string> read_file(const fs::path& path, std::uintmax_t max_bytes) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return fail(path.string() + ": no such file");
  if (fs::is_directory(status)) return fail(path.string() + ": is a directory, expected a file");
  auto size = fs::file_size(path, ec);
  if (ec) return fail(path.string() + ": cannot read size: " + ec.message());
  if (size > max_bytes)
    return fail(path.string() + ": file is too large (" + std::to_string(size) + " bytes, limit " +
                std::to_string(max_bytes) + ")");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail(path.string() + ": read error");
  return ss.str();
}

Result<void> write_file_atomic(const fs::path& path, const std::string& content, unsigned mode, bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec)) return fail(path.string() + ": already exists (refusing to overwrite)");
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fs::create_directories(dir, ec);
  if (ec) return fail(dir.string() + ": cannot create directory: " + ec.message());
  fs::path tmp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(::getpid()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail(tmp.string() + ": cannot create: " + std::strerror(errno));
  ::fchmod(fd, mode);  // umask may have narrowed it; never widened past `mode`
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail(tmp.string() + ": write failed: " + why);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return fail(tmp.string() + ": sync failed: " + why);
  }
  if (!overwrite) {
    // link() fails if the target appeared meanwhile: no silent overwrite.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      std::string why = std::strerror(errno);
      ::unlink(tmp.c_str());
      return fail(path.string() + ": cannot create: " + why);
    }
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return fail(path.string() + ": cannot replace: " + why);
  }
  return {};
}

fs::path expand_home(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    std::string h = home ? home : "/";
    return fs::path(h) / path.substr(path.size() > 1 ? 2 : 1);
  }
  return fs::path(path);
}

fs::path resolve_path(const std::string& path, const fs::path& base) {
  fs::path p = expand_home(path);
  if (p.is_relative()) p = base / p;
  return p.lexically_normal();
}

}  // namespace core::util
