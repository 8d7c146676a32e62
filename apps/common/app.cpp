#include "common/app.hpp"

#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "libcore/config/node_config.hpp"
#include "libcore/util/files.hpp"

namespace app {

int report_error(const std::string& tool, const std::string& message, int code) {
  std::cerr << tool << ": error: " << message << "\n";
  return code;
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

namespace {
volatile std::sig_atomic_t g_interrupt = 0;
struct sigaction g_previous_int, g_previous_term;
extern "C" void record_interrupt(int signo) { g_interrupt = signo; }
}  // namespace

InterruptFlag::InterruptFlag() {
  g_interrupt = 0;
  struct sigaction action {};
  action.sa_handler = record_interrupt;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

InterruptFlag::~InterruptFlag() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int InterruptFlag::signal() const { return g_interrupt; }

std::string InterruptFlag::name(int signo) {
  return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "signal " + std::to_string(signo);
}

const char* version() { return TNODE_VERSION; }

void add_version_flag(CLI::App& app, const std::string& tool) {
  app.set_version_flag("--version", tool + " " + version());
}

void add_tool_basics(CLI::App& app, const std::string& tool, bool& json) {
  add_version_flag(app, tool);
  app.require_subcommand(1);
  app.fallthrough();
  app.add_flag("--json", json, "Machine-readable output on stdout");
}

std::optional<int> parse_cli(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RequiredError& e) {
    // CLI11 checks "a subcommand is required" before it reports unexpected
    // words, so a mistyped command would be reported as a missing one.
    if (app.get_subcommands().empty() && !app.remaining().empty()) {
      const std::string word = app.remaining().front();
      report_error(app.get_name(),
                   (word.rfind('-', 0) == 0 ? "unknown option '" : "unknown command '") + word +
                       "' (run with --help for the list)",
                   kUsage);
      return kUsage;
    }
    app.exit(e);
    return kUsage;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }
  return std::nullopt;
}

Progress::Progress(std::string label)
    : label_(std::move(label)),
      enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void Progress::update(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (shown_ && now - last_ < std::chrono::milliseconds(200) && done != total) return;
  last_ = now;
  shown_ = true;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  if (total > 0)
    std::fprintf(stderr, "\r%s %llu/%llu (%.0f%%, %.0f/s)   ", label_.c_str(), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), 100.0 * static_cast<double>(done) / static_cast<double>(total),
                 rate);
  else
    std::fprintf(stderr, "\r%s %llu (%.0f/s)   ", label_.c_str(), static_cast<unsigned long long>(done), rate);
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && shown_) std::fprintf(stderr, "\n");
  shown_ = false;
}

void add_store_location(CLI::App& app, StoreLocation& loc) {
  auto* d = app.add_option("-d,--data-dir", loc.data_dir, "Node data directory (the store is DIR/chain)");
  auto* c = app.add_option("-c,--config", loc.config, "tnode.toml of the node (its node.data_dir is used)");
  d->excludes(c);
}

std::filesystem::path store_path_of(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir / "CURRENT", ec)) return dir;
  return dir / "chain";
}

core::util::Result<ResolvedStore> resolve_store(const StoreLocation& loc) {
  if (!loc.config.empty()) {
    auto cfg = core::config::load_node_config(loc.config);
    if (!cfg) return tl::unexpected(cfg.error());
    return ResolvedStore{cfg->chain_path(), cfg->max_clock_drift.count(), cfg->score_half_life.count()};
  }
  if (!loc.data_dir.empty()) return ResolvedStore{store_path_of(core::util::expand_home(loc.data_dir))};
  return core::util::fail("no store given: use --data-dir DIR or --config FILE");
}

}  // namespace app
