#include "libcore/http/admission.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <tuple>
#include <unordered_map>

namespace core::http {

const char* to_string(Phase p) {
  switch (p) {
    case Phase::Idle:
      return "idle";
    case Phase::Headers:
      return "headers";
    case Phase::Body:
      return "body";
    case Phase::Responding:
      return "responding";
  }
  return "?";
}

Admission admit(std::span<const OpenConnection> open, std::string_view source, std::size_t max_connections,
                std::size_t max_per_source) {
  std::unordered_map<std::string_view, std::size_t> held;
  for (const auto& c : open) ++held[c.source];
  const auto it = held.find(source);
  const std::size_t mine = it == held.end() ? 0 : it->second;
  if (mine >= max_per_source) return {Admission::Verdict::RefusePerSource};
  if (open.size() < max_connections) return {Admission::Verdict::Admit};

  // Smaller is a better victim: the most crowded source, then a connection
  // waiting on its client before one sending a body, then the one waiting
  // longest, then the lowest id.
  auto rank = [&held](const OpenConnection& c) {
    return std::tuple(-static_cast<std::ptrdiff_t>(held.at(c.source)), c.phase == Phase::Body, c.since, c.id);
  };
  const OpenConnection* victim = nullptr;
  for (const auto& c : open) {
    if (c.phase == Phase::Responding || held.at(c.source) < mine + 2) continue;
    if (!victim || rank(c) < rank(*victim)) victim = &c;
  }
  if (!victim) return {Admission::Verdict::RefuseFull};
  return {Admission::Verdict::AdmitEvicting, victim->id};
}

std::string source_key(std::string_view address) {
  const std::string text(address);
  std::array<unsigned char, 16> v6{};
  if (in_addr v4{}; inet_pton(AF_INET, text.c_str(), &v4) == 1) return text;
  if (inet_pton(AF_INET6, text.c_str(), v6.data()) != 1) return text;
  static constexpr std::array<unsigned char, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char buf[INET6_ADDRSTRLEN] = {};
  if (std::equal(kMapped.begin(), kMapped.end(), v6.begin())) {
    inet_ntop(AF_INET, v6.data() + 12, buf, sizeof buf);
    return buf;
  }
  std::fill(v6.begin() + 8, v6.end(), 0);
  inet_ntop(AF_INET6, v6.data(), buf, sizeof buf);
  return std::string(buf) + "/64";
}

}  // namespace core::http
