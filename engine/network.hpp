// Container networking for ferryctl.
//
// Default network "ferry": one `ferry` per container, attached to the
// container's init by pid (`ferry --configure --mtu 65520 -t SPEC... PID
// eth0`), a child of the monitor; its --exit-fd is held by the monitor, so
// ferry ends with it, and --ready-fd says when eth0 is configured and every
// -t listener is bound.
//
// Bridge networks ("network create"): all of them live in one shared rootless
// network namespace (the "infra"), as podman's rootless-netns does. A holder
// process (process.hpp) owns its user and network namespaces; containers on
// bridge networks join that user namespace (so ferry-bridge, run inside it,
// may move a veth end into their network namespace). One `ferry` attached to
// the holder gives the infra a tap with a default route to the outside (the
// bridges' traffic is routed through it: ip_forward=1 inside the infra), and
// its --api-socket publishes container ports (add_hostfwd with the
// container's bridge address as guest_addr). ferry-bridge runs inside the
// infra with FERRY_BRIDGE_STATE_DIR=ROOT/bridge; ferry-dns runs inside it
// with --config ROOT/dns -p 53, one file per network listing the running
// members, rewritten and signalled (SIGHUP) as they come and go. When no
// running container uses a bridge network, the infra is taken down whole.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/expected.hpp"
#include "engine/render.hpp"
#include "engine/state.hpp"

namespace ferry::engine {

struct Binaries {
  std::string ferry, dns, bridge;
};
// $FERRY_BIN, $FERRY_DNS_BIN, $FERRY_BRIDGE_BIN, else beside ferryctl in the
// build tree (../ferry, ../aardvark-dns/ferry-dns, ../netavark-plugin/ferry-bridge),
// else the installed places.
Binaries find_binaries();

// Fails with "port 8080/tcp is already in use ..." when a host port cannot be bound.
Expected<void, std::string> check_ports_free(const std::vector<PortMap>& ports);

struct FerryHandle {
  pid_t pid = 0;
  int exit_fd = -1;  // closing it ends ferry
};
Expected<FerryHandle, std::string> start_container_ferry(const Binaries& b, pid_t init,
                                                         const std::vector<PortMap>& ports,
                                                         const std::string& log_path);
void stop_container_ferry(FerryHandle& h);

// The shared namespace: started when missing (or dead).
Expected<InfraRecord, std::string> ensure_infra(const Store& st, const Binaries& b);
// Takes the infra down when no running container is on a bridge network.
void stop_infra_if_unused(const Store& st);

// ferry-bridge create (validates and completes the Network).
Expected<boost::json::object, std::string> bridge_create(const Binaries& b, const boost::json::object& net);
// ferry-bridge setup for the container (its init must be running).
Expected<Attachment, std::string> bridge_setup(const Store& st, const Binaries& b, const InfraRecord& infra,
                                               const boost::json::object& net, const ContainerRecord& c);
void bridge_teardown(const Store& st, const Binaries& b, const InfraRecord& infra, const boost::json::object& net,
                     const ContainerRecord& c);

// Rewrites network's ferry-dns file from the running members in the store
// and starts or signals ferry-dns.
Expected<void, std::string> dns_refresh(const Store& st, const Binaries& b, const InfraRecord& infra,
                                        const std::string& network);

// The shared ferry's slirp4netns API.
Expected<std::int64_t, std::string> api_add_forward(const std::string& sock, const PortMap& p, const std::string& guest);
void api_remove_forward(const std::string& sock, std::int64_t id);

}  // namespace ferry::engine
