// ferryctl's records and where they live. A container is a folder
// ROOT/containers/<id>/ holding config.json (the record below), ctr.log (the
// container's output), resolv.conf, hosts and ferry.log; a network is
// ROOT/networks/<name>.json (the Network JSON ferry-bridge's `create`
// returned); the shared rootless network namespace is ROOT/infra.json. ROOT is
// $FERRY_STATE_DIR, else /run/ferry for root, else $XDG_RUNTIME_DIR/ferry.
// Every change is made under an exclusive flock on ROOT/lock (Store::lock) and
// written to a temporary file renamed into place, so readers never see half a
// record. The JSON conversion functions are pure and unit-tested; the rest
// is file handling.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/expected.hpp"
#include "engine/cli.hpp"

namespace ferry::engine {

struct ContainerRecord {
  std::string id;            // 64 hex digits
  std::string name;
  std::string network;       // ferry | host | none | a created network
  std::vector<std::string> aliases;
  std::vector<PortMap> ports;
  std::string rootfs;
  std::vector<std::string> env;
  std::vector<std::string> cmd;
  std::string status = "created";  // created | running | exited
  pid_t pid = 0;             // the container's init (pid 1 inside), host pid
  pid_t monitor_pid = 0;     // ferryctl's monitor, which cleans up at exit
  pid_t ferry_pid = 0;       // ferry for the default network
  int exit_code = -1;
  std::string created;       // RFC 3339, UTC
  std::string ip;            // the container's IPv4 address
  std::string gateway;
  std::vector<std::int64_t> forward_ids;  // ids in the shared ferry's API (bridge networks)
};

boost::json::object to_json(const ContainerRecord& r);
Expected<ContainerRecord, std::string> container_from_json(const boost::json::value& v);

// The shared rootless network namespace for bridge networks.
struct InfraRecord {
  pid_t holder_pid = 0;   // keeps the user and network namespaces alive
  pid_t ferry_pid = 0;    // ferry attached to it: the way out, and published ports
  std::string api_socket;
};
boost::json::object to_json(const InfraRecord& r);
Expected<InfraRecord, std::string> infra_from_json(const boost::json::value& v);

// RAII exclusive lock on ROOT/lock.
class Lock {
 public:
  explicit Lock(int fd) : fd_(fd) {}
  Lock(Lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Lock& operator=(Lock&&) = delete;
  ~Lock();
 private:
  int fd_;
};

class Store {
 public:
  // Opens (creating, mode 0700) the state folder.
  static Expected<Store, std::string> open();
  const std::string& root() const { return root_; }
  Lock lock() const;

  std::string container_dir(const std::string& id) const { return root_ + "/containers/" + id; }
  std::vector<ContainerRecord> containers() const;
  // By full id, unique id prefix or name.
  std::optional<ContainerRecord> find(const std::string& ref) const;
  Expected<void, std::string> save(const ContainerRecord& r) const;
  void remove(const std::string& id) const;

  std::string network_path(const std::string& name) const { return root_ + "/networks/" + name + ".json"; }
  std::optional<boost::json::object> network(const std::string& name) const;
  std::vector<boost::json::object> networks() const;
  Expected<void, std::string> save_network(const std::string& name, const boost::json::object& net) const;

  std::optional<InfraRecord> infra() const;
  Expected<void, std::string> save_infra(const InfraRecord& r) const;
  void remove_infra() const;

 private:
  explicit Store(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// Whole-file helpers.
std::optional<std::string> read_file(const std::string& path);
Expected<void, std::string> write_file_atomic(const std::string& path, const std::string& data);
bool pid_alive(pid_t pid);

}  // namespace ferry::engine
