// `ferry`: user-mode networking for a rootless container. The program answers
// to the command line of the tool it is installed as (argv[0]'s basename):
//
//   pasta        pasta's (podman >= 4.4/5.x, rootlesskit 2)   cli/pasta.cpp
//   slirp4netns  slirp4netns's (podman 4.x, rootlesskit 1)    cli/slirp4netns.cpp
//   anything else, e.g. ferry: slirp4netns's, plus ferry's own flags
//
// `meson install` puts links named slirp4netns and pasta in
// <libexecdir>/ferry (docs/integration.md). cli/run.cpp holds the start-up
// both share.
#include "netstack/cli/personalities.hpp"

#include <cstring>

int main(int argc, char** argv) {
  const char* name = argc > 0 && argv[0] ? argv[0] : "ferry";
  if (const char* slash = std::strrchr(name, '/')) name = slash + 1;
  if (std::strcmp(name, "pasta") == 0 || std::strcmp(name, "pasta.avx2") == 0)
    return ferry::cli::pasta_main(argc, argv);
  if (std::strcmp(name, "slirp4netns") == 0) return ferry::cli::slirp4netns_main("slirp4netns", argc, argv);
  return ferry::cli::slirp4netns_main("ferry", argc, argv);
}
