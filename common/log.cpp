#include "common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace ferry::log {

void init(const std::string& program, Level level) {
  auto logger = spdlog::stderr_logger_st(program);
  logger->set_pattern("%n: %v");
  switch (level) {
    case Level::quiet: logger->set_level(spdlog::level::warn); break;
    case Level::normal: logger->set_level(spdlog::level::info); break;
    case Level::debug: logger->set_level(spdlog::level::debug); break;
  }
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace ferry::log
