#pragma once
// Helpers shared by the binaries: exit codes, CLI11 option helpers, output
// to stdout (machine) and stderr (errors, progress).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "libcore/util/error.hpp"

namespace app {

// Exit codes of every binary.
enum ExitCode : int { kOk = 0, kFailure = 1, kUsage = 2 };

// Prints "<tool>: error: <message>" on stderr and returns `code`.
int report_error(const std::string& tool, const std::string& message, int code);

// Prints JSON (indented) or nothing; for --json output on stdout.
void print_json(const nlohmann::json& j);

// The project version ("0.1.0"), as --version prints it.
const char* version();

// --version prints "<tool> <version>".
void add_version_flag(CLI::App& app, const std::string& tool);

// What every subcommand tool shares: --version, exactly one subcommand,
// and a --json flag accepted before or after the subcommand.
void add_tool_basics(CLI::App& app, const std::string& tool, bool& json);

// Runs a CLI11 parse; on --help/--version prints and returns 0, on a usage
// error prints it and returns 2; nullopt when parsing succeeded.
std::optional<int> parse_cli(CLI::App& app, int argc, char** argv);

// Progress on stderr, only when stderr is a terminal; at most ~5 updates/s.
class Progress {
 public:
  explicit Progress(std::string label);
  void update(std::uint64_t done, std::uint64_t total);
  void finish();

 private:
  std::string label_;
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// SIGINT/SIGTERM as a flag for a tool's long loops (tchain export, import):
// while an InterruptFlag lives, either signal only records its number (the
// handler does nothing else; SA_RESTART, so no system call fails with EINTR)
// and the loop polls signal() to stop cleanly. The previous dispositions are
// restored on destruction. One at a time, on the main thread.
class InterruptFlag {
 public:
  InterruptFlag();
  ~InterruptFlag();
  InterruptFlag(const InterruptFlag&) = delete;
  InterruptFlag& operator=(const InterruptFlag&) = delete;
  // 0 until a signal arrives, then SIGINT or SIGTERM.
  int signal() const;
  // "SIGINT" / "SIGTERM", and the shell's exit code for it (130 / 143).
  static std::string name(int signo);
  static int exit_code(int signo) { return 128 + signo; }
};

// Where a tool finds a node's chain store: --data-dir DIR (DIR/chain, or
// DIR itself when it is a store) or --config FILE (its node.data_dir).
struct StoreLocation {
  std::string data_dir;
  std::string config;
};
void add_store_location(CLI::App& app, StoreLocation& loc);
struct ResolvedStore {
  std::filesystem::path path;
  std::int64_t max_clock_drift_ms = 2000;     // the node's chain.max_clock_drift with --config
  std::int64_t score_half_life_ms = 600'000;  // the node's peer_quality.score_half_life with --config
};
core::util::Result<ResolvedStore> resolve_store(const StoreLocation& loc);
// A path given directly: a store directory or a data dir holding chain/.
std::filesystem::path store_path_of(const std::filesystem::path& dir);

}  // namespace app
