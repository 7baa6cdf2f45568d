// Unit tests for ferryctl's pure parts: the command line (run options, -p
// mappings, network create), the records as JSON, and the files and plugin
// requests ferryctl renders.
#include <gtest/gtest.h>

#include "engine/cli.hpp"
#include "engine/render.hpp"
#include "engine/state.hpp"

using namespace ferry::engine;

TEST(PortSpec, Forms) {
  auto a = parse_port("8080:80");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host_ip, "");
  EXPECT_EQ(a->host_port, 8080);
  EXPECT_EQ(a->ctr_port, 80);
  EXPECT_EQ(a->proto, "tcp");
  auto b = parse_port("127.0.0.1:8080:80/udp");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host_ip, "127.0.0.1");
  EXPECT_EQ(b->proto, "udp");
  EXPECT_EQ(pasta_spec(*a), "8080:80");
  EXPECT_EQ(pasta_spec(*b), "127.0.0.1/8080:80");
  auto c = parse_port("[::1]:8080:80/udp");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->host_ip, "::1");
  EXPECT_EQ(c->host_port, 8080);
  EXPECT_EQ(c->ctr_port, 80);
  EXPECT_EQ(c->proto, "udp");
  EXPECT_EQ(pasta_spec(*c), "::1/8080:80") << "pasta's syntax takes IPv6 bare before the slash";
}

TEST(PortSpec, Errors) {
  for (const char* bad : {"80", "0:80", "70000:80", "80:", ":80", "x:80", "1.2.3:80:80", "80:80/sctp", "+80:80",
                          "300.0.0.1:80:80", "[::1:8080:80", "[::1]8080:80", "[::1]:80", "[1.2.3.4]:80:80",
                          "[::1]:1.2.3.4:80:80", "::1:8080:80"}) {
    auto r = parse_port(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().find(bad), std::string::npos) << r.error();
    }
  }
}

TEST(RunOptions, Parses) {
  auto o = parse_run({"-d", "--name", "web", "--network=net1", "-p", "8080:80", "--env", "A=b", "--rootfs", "/r",
                      "--network-alias", "www", "--", "httpd", "-f"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_TRUE(o->detach);
  EXPECT_EQ(o->name, "web");
  EXPECT_EQ(o->network, "net1");
  ASSERT_EQ(o->ports.size(), 1u);
  EXPECT_EQ(o->env, std::vector<std::string>{"A=b"});
  EXPECT_EQ(o->aliases, std::vector<std::string>{"www"});
  EXPECT_EQ(o->rootfs, "/r");
  EXPECT_EQ(o->cmd, (std::vector<std::string>{"httpd", "-f"}));
  auto p = parse_run({"sh", "-c", "echo -d"});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->network, "ferry");
  EXPECT_FALSE(p->detach);
  EXPECT_EQ(p->cmd.size(), 3u);
}

TEST(RunOptions, Errors) {
  EXPECT_FALSE(parse_run({}));
  EXPECT_FALSE(parse_run({"--name"}));
  EXPECT_FALSE(parse_run({"--name", "bad name", "true"}));
  EXPECT_FALSE(parse_run({"--bogus", "true"}));
  EXPECT_FALSE(parse_run({"-p", "8080:80", "-p", "8080:81", "true"}));
  EXPECT_FALSE(parse_run({"--network", "host", "-p", "8080:80", "true"}));
  EXPECT_FALSE(parse_run({"--env", "NOEQUALS", "true"}));
  auto r = parse_run({"-d"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("no command"), std::string::npos);
}

TEST(Names, Valid) {
  EXPECT_TRUE(valid_name("web-1.a_b"));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name("-x"));
  EXPECT_FALSE(valid_name("a/b"));
  EXPECT_FALSE(valid_name(std::string(64, 'a')));
}

TEST(NetworkCreate, Parses) {
  auto o = parse_network_create({"net1", "--subnet", "10.90.0.0/24", "--internal"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->name, "net1");
  EXPECT_EQ(o->subnet, "10.90.0.0/24");
  EXPECT_TRUE(o->internal);
  EXPECT_FALSE(parse_network_create({}));
  EXPECT_FALSE(parse_network_create({"ferry"}));
  EXPECT_FALSE(parse_network_create({"a", "b"}));
  EXPECT_FALSE(parse_network_create({"a", "--vlan"}));
}

TEST(Records, RoundTrip) {
  ContainerRecord r;
  r.id = std::string(64, 'a');
  r.name = "web";
  r.network = "net1";
  r.aliases = {"www"};
  r.ports = {PortMap{"127.0.0.1", 8080, 80, "tcp"}};
  r.cmd = {"httpd", "-f"};
  r.env = {"A=b"};
  r.status = "running";
  r.pid = 42;
  r.monitor_pid = 41;
  r.exit_code = 3;
  r.ip = "10.89.0.2";
  r.forward_ids = {1, 7};
  auto back = container_from_json(boost::json::value(to_json(r)));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->name, "web");
  EXPECT_EQ(back->ports, r.ports);
  EXPECT_EQ(back->cmd, r.cmd);
  EXPECT_EQ(back->pid, 42);
  EXPECT_EQ(back->exit_code, 3);
  EXPECT_EQ(back->forward_ids, r.forward_ids);
  EXPECT_FALSE(container_from_json(boost::json::parse(R"({"id":"x","pid":"nope"})")));
  EXPECT_FALSE(container_from_json(boost::json::parse(R"([1])")));
  EXPECT_FALSE(container_from_json(boost::json::parse(R"({"name":"no id"})")));

  InfraRecord i{10, 11, "/run/x.sock"};
  auto ib = infra_from_json(boost::json::value(to_json(i)));
  ASSERT_TRUE(ib);
  EXPECT_EQ(ib->holder_pid, 10);
  EXPECT_EQ(ib->api_socket, "/run/x.sock");
}

TEST(Render, ResolvAndHosts) {
  EXPECT_EQ(render_resolv_conf("10.0.2.3", false), "# written by ferryctl\nnameserver 10.0.2.3\n");
  EXPECT_NE(render_resolv_conf("10.89.0.1", true).find("search dns.podman\nnameserver 10.89.0.1\n"),
            std::string::npos);
  const auto h = render_hosts("10.0.2.100", {"web", "abc"}, true);
  EXPECT_NE(h.find("10.0.2.100\tweb\tabc\n"), std::string::npos);
  EXPECT_NE(h.find("10.0.2.2\thost.containers.internal\n"), std::string::npos);
  EXPECT_EQ(render_hosts("", {}, false).find("host.containers"), std::string::npos);
}

TEST(Render, DnsConfig) {
  ContainerRecord a;
  a.id = std::string(64, '1');
  a.name = "web";
  a.aliases = {"www"};
  a.ip = "10.89.0.2";
  ContainerRecord b;
  b.id = std::string(64, '2');
  b.name = "noip";
  EXPECT_EQ(render_dns_config("10.89.0.1", {a, b}),
            "10.89.0.1\n" + a.id + " 10.89.0.2  web,www,111111111111\n");
}

TEST(Render, PluginRequests) {
  auto net = plugin_network("n1", "id1", "10.89.3.0/24", true);
  EXPECT_EQ(network_subnets(net), std::vector<std::string>{"10.89.3.0/24"});
  EXPECT_TRUE(network_internal(net));
  EXPECT_EQ(network_gateway(net), "");
  net["subnets"].as_array()[0].as_object()["gateway"] = "10.89.3.1";
  EXPECT_EQ(network_gateway(net), "10.89.3.1");
  ContainerRecord c;
  c.id = "cid";
  c.name = "web";
  c.aliases = {"www"};
  auto req = plugin_setup_request(c, net);
  EXPECT_EQ(req["container_id"].as_string(), "cid");
  EXPECT_EQ(req["network_options"].as_object()["interface_name"].as_string(), "eth0");
  EXPECT_EQ(req["network"].as_object()["name"].as_string(), "n1");
}

TEST(Render, StatusBlock) {
  auto a = parse_status_block(
      R"({"dns_search_domains":[],"dns_server_ips":[],"interfaces":{"eth0":{"mac_address":"aa","subnets":[{"ipnet":"fd00::2/64","gateway":"fd00::1"},{"ipnet":"10.89.0.2/24","gateway":"10.89.0.1"}]}}})");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->ip, "10.89.0.2");
  EXPECT_EQ(a->gateway, "10.89.0.1");
  EXPECT_FALSE(parse_status_block("nope"));
  EXPECT_FALSE(parse_status_block(R"({"interfaces":{}})"));
}

TEST(Render, PickSubnet) {
  EXPECT_EQ(*pick_subnet({}), "10.89.0.0/24");
  EXPECT_EQ(*pick_subnet({"10.89.0.0/24", "10.89.1.0/24"}), "10.89.2.0/24");
}
