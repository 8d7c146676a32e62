#include "libcore/node/service.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "libcore/util/files.hpp"

namespace core::node {

std::string service_status(std::uint64_t height, std::size_t peers, std::size_t masternode_peers) {
  return "height " + std::to_string(height) + ", " + std::to_string(peers) + (peers == 1 ? " peer" : " peers") + " (" +
         std::to_string(masternode_peers) + (masternode_peers == 1 ? " masternode)" : " masternodes)");
}

ServiceNotifier::ServiceNotifier() : enabled_(std::getenv("NOTIFY_SOCKET") != nullptr) {}

void ServiceNotifier::send(const std::string& state) const {
  if (!enabled_) return;
  if (int r = sd_notify(0, state.c_str()); r < 0)
    spdlog::warn("systemd notify ({}) failed: {}", state.substr(0, state.find('\n')), std::strerror(-r));
}

void ServiceNotifier::ready(std::string_view status) const { send("READY=1\nSTATUS=" + std::string(status)); }
void ServiceNotifier::status(std::string_view status) const { send("STATUS=" + std::string(status)); }
void ServiceNotifier::stopping() const { send("STOPPING=1\nSTATUS=stopping"); }

util::Result<PidFile> PidFile::create(const std::filesystem::path& path) {
  if (auto ok = util::write_file_atomic(path, std::to_string(::getpid()) + "\n"); !ok)
    return util::fail("--pid-file: " + ok.error().message);
  return PidFile(path);
}

PidFile::PidFile(PidFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

PidFile::~PidFile() {
  if (path_.empty()) return;
  auto text = util::read_file(path_, 64);
  if (text && *text == std::to_string(::getpid()) + "\n") {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

}  // namespace core::node
