#include "libcore/node/logging.hpp"

#include <chrono>
#include <memory>

#include <spdlog/details/fmt_helper.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "libcore/util/time.hpp"

namespace core::node {

namespace {

// {"time":"2026-11-24T10:00:00.123Z","level":"info","msg":"..."}: the
// message is escaped as JSON (a pattern cannot do that).
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    nlohmann::ordered_json line = {{"time", util::format_rfc3339(ms)},
                                   {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                                         spdlog::level::to_string_view(msg.level).size())},
                                   {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    auto text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

util::Result<void> configure_logging(const std::string& level, config::LogFormat format,
                                     const std::optional<std::filesystem::path>& file) {
  spdlog::sink_ptr sink;
  if (file) {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file->string(), false);
    } catch (const spdlog::spdlog_ex& e) {
      return util::fail("log file " + file->string() + ": " + e.what());
    }
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto logger = std::make_shared<spdlog::logger>("tnode", sink);
  if (format == config::LogFormat::Json)
    logger->set_formatter(std::make_unique<JsonFormatter>());
  else
    logger->set_formatter(
        std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc));
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace core::node
