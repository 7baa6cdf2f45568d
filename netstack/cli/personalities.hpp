// The command lines ferry answers to, chosen by the program's name
// (netstack/main.cpp): slirp4netns's (also ferry's own) and pasta's.
#pragma once

namespace ferry::cli {

inline constexpr const char* kVersion = "0.1.0";

// slirp4netns's command line (contracts.md section 1). `prog` names the
// program in messages ("ferry" or "slirp4netns").
int slirp4netns_main(const char* prog, int argc, char** argv);

// pasta's command line as podman 5 and rootlesskit 2 use it (contracts.md
// section 2).
int pasta_main(int argc, char** argv);

}  // namespace ferry::cli
