#pragma once
// Small file helpers with errors as values.

#include <cstdint>
#include <filesystem>
#include <string>

#include "libcore/util/error.hpp"

namespace core::util {

namespace fs = std::filesystem;

// Reads a whole file of at most max_bytes. Fails naming the path and the
// reason (missing, unreadable, too large).
Result<std::string> read_file(const fs::path& path, std::uintmax_t max_bytes = 16u << 20);

// Writes a file atomically: a temporary file in the same directory, fsync,
// rename over the target. `mode` is applied before any data is written, so a
// secret never exists with wider permissions. When `overwrite` is false an
// existing target is an error.
Result<void> write_file_atomic(const fs::path& path, const std::string& content, unsigned mode = 0644,
                               bool overwrite = true);

// "~" or "~/x" -> $HOME/x; other paths unchanged.
fs::path expand_home(const std::string& path);

// Resolves `path` (after ~ expansion) against `base` when it is relative.
fs::path resolve_path(const std::string& path, const fs::path& base);

}  // namespace core::util
