#pragma once
// How the daemon tells its supervisor about itself (DESIGN.md 8, tnode(1)
// SYSTEMD): systemd's notify protocol, and a pid file.
//
// Notify: under a unit with Type=notify, systemd starts the node with
// NOTIFY_SOCKET set; the node sends READY=1 once its peer and HTTP ports are
// bound (so `systemctl start` returns when the node can be reached, and
// dependants start after it), STATUS= lines (`systemctl status` shows
// height and peers), and STOPPING=1 when a graceful shutdown begins. Without
// NOTIFY_SOCKET every call does nothing.
//
// Pid file: written atomically when the node starts, removed when it exits,
// but only while it still holds this process's id (a later node's file is
// never removed).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "libcore/util/error.hpp"

namespace core::node {

// "height 120, 5 peers (3 masternodes)": the STATUS line. Pure.
std::string service_status(std::uint64_t height, std::size_t peers, std::size_t masternode_peers);

class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET once: enabled() says whether anyone listens.
  ServiceNotifier();
  bool enabled() const { return enabled_; }

  void ready(std::string_view status) const;
  void status(std::string_view status) const;
  void stopping() const;

 private:
  void send(const std::string& state) const;
  bool enabled_;
};

class PidFile {
 public:
  // Writes this process's id to `path`; fails naming the path.
  static util::Result<PidFile> create(const std::filesystem::path& path);
  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  ~PidFile();

 private:
  explicit PidFile(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;  // empty once moved from
};

}  // namespace core::node
