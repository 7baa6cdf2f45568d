// Logging for every ferry program: a thin set-up over spdlog (Debian's
// libspdlog-dev, with fmt). Programs call ferry::log::init() once, then use
// spdlog::info()/warn()/error()/debug() with fmt-style format strings.
// Messages go to stderr, which is what podman and netavark pass through to
// the user.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace ferry::log {

enum class Level { quiet, normal, debug };

// Names the program in every line ("ferry: ..."), sets the level.
void init(const std::string& program, Level level);

}  // namespace ferry::log
