#include "libcore/node/api.hpp"

#include <nlohmann/json.hpp>

#include "libcore/crypto/types.hpp"
#include "libcore/metrics/node_metrics.hpp"
#include "libcore/node/network.hpp"
#include "libcore/node/status_page.hpp"
#include "libcore/node/sync.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/store/block_json.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

using nlohmann::json;

HealthVerdict health_verdict(const ConnectivityVerdict& connectivity, bool syncing) {
  if (connectivity.partitioned) return {"degraded", connectivity.reason};
  return {syncing ? "syncing" : "ok", ""};
}

http::Response health_response(const NodeIdentity& identity, const HealthFacts& f) {
  json body = {
      {"status", f.verdict.status},
      {"height", f.tip.height},
      {"tip", f.tip.hash.hex()},
      {"genesis", f.genesis},
      {"network", identity.network},
      {"protocol_version", p2p::kProtocolVersion},
      {"version", identity.version},
      {"node_id", identity.node_id},
      {"role", identity.role},
      {"peers", {{"inbound", f.peers.inbound}, {"outbound", f.peers.outbound}, {"masternodes", f.peers.masternodes}}},
      {"syncing", f.sync.syncing},
      {"sync",
       {{"target_height", f.sync.target_height},
        {"pending_headers", f.sync.pending_headers},
        {"blocks_in_flight", f.sync.blocks_in_flight},
        {"stalls", f.sync.stalls}}},
      {"uptime_s", f.uptime_s}};
  if (!f.verdict.reason.empty()) body["reason"] = f.verdict.reason;
  return http::json_response(f.verdict.status == "degraded" ? 503 : 200, body);
}

namespace {

json optional_ms(const std::optional<std::int64_t>& ms) { return ms ? json(util::format_rfc3339(*ms)) : json(nullptr); }

json peers_json(const Network& network, const ChainSync& sync) {
  auto rows = json::array();
  for (auto p : network.peers()) {
    // What sync knows of the peer beats its Hello's claim.
    std::uint64_t blocks_received = 0, claimed_height = p.height;
    std::int64_t stall_timeout_ms = 0;
    if (auto sv = sync.peer_view(p.id)) {
      p.height = sv->tip.height;
      p.best_hash = sv->tip.hash.hex();
      claimed_height = sv->claimed.height;
      blocks_received = sv->blocks_received;
      stall_timeout_ms = sv->stall_timeout.count();
    }
    rows.push_back({{"node_id", p.node_id},
                    {"address", p.address},
                    {"listen_address", p.listen_address},
                    {"direction", p.direction},
                    {"class", p.peer_class},
                    {"role", p.role},
                    {"height", p.height},
                    {"claimed_height", claimed_height},
                    {"best_hash", p.best_hash},
                    {"blocks_received", blocks_received},
                    {"stall_timeout_ms", stall_timeout_ms},
                    {"score", p.score},
                    {"rtt_ms", p.rtt_ms ? json(*p.rtt_ms) : json(nullptr)},
                    {"connected_since", util::format_rfc3339(p.connected_since_ms)},
                    {"connected_s", (util::now_ms() - p.connected_since_ms) / 1000},
                    {"bytes_in", p.bytes_in},
                    {"bytes_out", p.bytes_out},
                    {"session", p.session},
                    {"user_agent", p.user_agent}});
  }
  return {{"count", rows.size()}, {"peers", rows}};
}

json addrbook_json(const Network& network) {
  auto rows = json::array();
  for (const auto& a : network.addresses()) {
    rows.push_back({{"address", a.address},
                    {"node_id", a.node_id ? json(*a.node_id) : json(nullptr)},
                    {"class", a.peer_class},
                    {"source", a.source},
                    {"connected", a.connected},
                    {"self", a.self},
                    {"wrong_network", a.wrong_network},
                    {"attempts", a.state.attempts},
                    {"consecutive_failures", a.state.consecutive_failures},
                    {"total_attempts", a.total_attempts},
                    {"total_failures", a.total_failures},
                    {"breaker", p2p::to_string(a.state.breaker)},
                    {"cooldown_ms", a.state.cooldown.count()},
                    {"parked", a.state.parked},
                    {"dialing", a.state.dialing},
                    {"next_dial_in_ms", a.next_dial_in_ms ? json(*a.next_dial_in_ms) : json(nullptr)},
                    {"score", a.score},
                    {"banned", a.banned},
                    {"last_attempt", optional_ms(a.last_attempt_ms)},
                    {"last_success", optional_ms(a.last_success_ms)},
                    {"last_error", a.last_error},
                    {"recent_attempts_ms", a.recent_attempts_ms}});
  }
  return {{"count", rows.size()}, {"addresses", rows}};
}

util::Result<json> parse_body(const http::Request& r) {
  if (r.body.empty()) return json::object();
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return util::fail("the request body must be a JSON object");
  return j;
}

util::Result<std::string> string_field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty())
    return util::fail(std::string("missing string field '") + key + "'");
  return it->get<std::string>();
}

util::Result<crypto::PublicKey> node_id_field(const json& body) {
  auto text = string_field(body, "node_id");
  if (!text) return tl::unexpected(text.error());
  auto id = crypto::PublicKey::from_hex(*text);
  if (!id) return util::fail("node_id: " + id.error().message);
  return *id;
}

using Context = std::shared_ptr<ApiContext>;

http::Response health(const Context& c) {
  HealthFacts f;
  f.tip = c->store.tip();
  f.genesis = c->store.genesis_hash().hex();
  f.peers = c->network.counts();
  f.sync = c->sync.status();
  f.verdict = health_verdict(c->network.connectivity(), f.sync.syncing);
  f.uptime_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - c->started_at).count();
  return health_response(c->identity, f);
}

// / (the status page), /health, /metrics, /peers, /addrbook, /bans.
void add_status_routes(http::Router& r, const Context& shared) {
  r.add("GET", "/", [](const http::Request&) { return status_page_response(); });
  r.add("GET", "/health", [c = shared](const http::Request&) { return health(c); });
  r.add("GET", "/metrics", [c = shared](const http::Request&) {
    c->metrics.uptime_seconds.set(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - c->started_at).count());
    const auto tip = c->store.tip();
    c->metrics.chain_height.set(static_cast<double>(tip.height));
    if (auto header = c->store.header(tip.hash))
      c->metrics.chain_tip_timestamp.set(static_cast<double>(header->timestamp_ms) / 1000.0);
    c->network.update_gauges();
    http::Response resp;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp.body = c->metrics.render();
    return resp;
  });

  r.add("GET", "/peers",
        [c = shared](const http::Request&) { return http::json_response(200, peers_json(c->network, c->sync)); });
  r.add("GET", "/addrbook",
        [c = shared](const http::Request&) { return http::json_response(200, addrbook_json(c->network)); });
  r.add("GET", "/bans", [c = shared](const http::Request&) {
    auto rows = json::array();
    for (const auto& b : c->network.bans())
      rows.push_back({{"node_id", b.node_id},
                      {"since", util::format_rfc3339(b.since_ms)},
                      {"until", util::format_rfc3339(b.until_ms)},
                      {"reason", b.reason}});
    return http::json_response(200, {{"count", rows.size()}, {"bans", rows}});
  });
}

// /chain/tip, /chain/block/{height|hash}.
void add_chain_routes(http::Router& r, const Context& shared) {
  r.add("GET", "/chain/tip", [c = shared](const http::Request&) {
    auto tip = c->store.tip();
    auto header = c->store.header(tip.hash);
    json body = header ? store::header_json(*header) : json::object();
    body["height"] = tip.height;
    body["hash"] = tip.hash.hex();
    return http::json_response(200, body);
  });

  r.add("GET", "/chain/block/{id}", [c = shared](const http::Request& req) {
    auto hash = store::find_block(c->store, req.params.at("id"));
    if (!hash)
      return http::error_response(hash.error().kind == store::BlockIdError::Malformed ? 400 : 404,
                                  hash.error().message);
    auto block = c->store.block(*hash);
    if (!block) return http::error_response(404, "block " + hash->hex() + " is not in the store");
    return http::json_response(200, store::block_json(c->store, *block));
  });
}

// POST /admin/*: loopback + token (http::require_admin), a JSON body.
void add_admin_routes(http::Router& r, const Context& shared) {
  auto admin = [c = shared, &r](const char* path, std::function<http::Response(const json&)> fn) {
    r.add("POST", path, [c, fn = std::move(fn)](const http::Request& req) {
      return http::require_admin(req, c->admin_token, [&](const http::Request&) {
        auto body = parse_body(req);
        if (!body) return http::error_response(400, body.error().message);
        return fn(*body);
      });
    });
  };

  admin("/admin/connect", [c = shared](const json& body) {
    auto text = string_field(body, "address");
    if (!text) return http::error_response(400, text.error().message);
    auto address = util::parse_host_port(*text);
    if (!address) return http::error_response(400, "address: " + address.error().message);
    if (auto ok = c->network.connect(*address); !ok) return http::error_response(409, ok.error().message);
    return http::json_response(202, {{"dialling", address->to_string()}});
  });

  admin("/admin/disconnect", [c = shared](const json& body) {
    std::string who;
    if (auto id = string_field(body, "node_id"))
      who = *id;
    else if (auto a = string_field(body, "address"))
      who = *a;
    else
      return http::error_response(400, "give 'node_id' or 'address'");
    const auto closed = c->network.disconnect(who);
    if (closed == 0) return http::error_response(404, "no connected peer matches '" + who + "'");
    return http::json_response(200, {{"disconnected", closed}});
  });

  admin("/admin/ban", [c = shared](const json& body) {
    auto id = node_id_field(body);
    if (!id) return http::error_response(400, id.error().message);
    util::Millis duration = c->default_ban_duration;
    if (auto d = string_field(body, "duration")) {
      auto parsed = util::parse_duration(*d);
      if (!parsed || parsed->count() <= 0)
        return http::error_response(400,
                                    "duration: " + (parsed ? std::string("must be positive") : parsed.error().message));
      duration = *parsed;
    }
    std::string reason = "banned by the operator";
    if (auto why = string_field(body, "reason")) reason = *why;
    c->network.ban(*id, duration, reason);
    return http::json_response(200, {{"banned", id->hex()}, {"duration", util::format_duration(duration)}});
  });

  admin("/admin/unban", [c = shared](const json& body) {
    auto id = node_id_field(body);
    if (!id) return http::error_response(400, id.error().message);
    if (!c->network.unban(*id)) return http::error_response(404, id->hex() + " is not banned");
    return http::json_response(200, {{"unbanned", id->hex()}});
  });
}

}  // namespace

http::Router make_api(ApiContext context) {
  http::Router r;
  auto shared = std::make_shared<ApiContext>(std::move(context));
  add_status_routes(r, shared);
  add_chain_routes(r, shared);
  add_admin_routes(r, shared);
  return r;
}

}  // namespace core::node
