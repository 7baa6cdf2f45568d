// The aardvark-dns configuration directory parser: see config.hpp.
#include "config.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <system_error>

namespace ferry::dns {

namespace {

constexpr std::string_view kInternalSuffix = "%int";

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

// A container name or alias: a non-empty DNS name of printable characters.
std::optional<std::string> valid_name(std::string_view n) {
  if (!n.empty() && n.back() == '.') n.remove_suffix(1);
  if (n.empty() || n.size() > 253) return std::nullopt;
  std::string out;
  size_t label = 0;
  for (char c : n) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return std::nullopt;
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
    } else if (++label > 63) {
      return std::nullopt;
    }
    out += static_cast<char>(std::tolower(u));
  }
  if (label == 0) return std::nullopt;
  return out;
}

}  // namespace

std::string Diagnostic::to_string() const { return file + ":" + std::to_string(line) + ": " + message; }

std::optional<std::vector<IpAddress>> parse_ip_list(std::string_view s) {
  std::vector<IpAddress> out;
  if (s.empty()) return out;
  for (auto item : split(s, ',')) {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(std::string(item), ec);
    if (ec) return std::nullopt;
    out.push_back(a);
  }
  return out;
}

FileResult parse_network_file(std::string_view file_name, std::string_view text, std::string_view path) {
  FileResult res;
  auto diag = [&](int line, std::string msg) {
    res.diagnostics.push_back({std::string(path), line, std::move(msg)});
  };
  NetworkConfig net;
  net.name = std::string(file_name);
  if (file_name.size() > kInternalSuffix.size() && file_name.ends_with(kInternalSuffix)) {
    net.internal = true;
    net.name.resize(net.name.size() - kInternalSuffix.size());
  }

  auto lines = split(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  bool have_header = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    int lineno = static_cast<int>(i + 1);
    std::string_view line = lines[i];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!have_header) {
      if (line.empty()) {
        diag(lineno, "empty first line: expected listen addresses");
        return res;
      }
      auto f = split(line, ' ');
      if (f.size() > 2) {
        diag(lineno, "first line has more than 2 fields: expected '<listen IPs>[ <DNS servers>]'");
        return res;
      }
      auto listen = parse_ip_list(f[0]);
      if (!listen || listen->empty()) {
        diag(lineno, "bad listen address list '" + std::string(f[0]) + "'");
        return res;
      }
      net.listen_ips = std::move(*listen);
      if (f.size() == 2) {
        auto servers = parse_ip_list(f[1]);
        if (!servers) {
          diag(lineno, "bad network DNS server list '" + std::string(f[1]) + "'; ignored");
        } else {
          net.dns_servers = std::move(*servers);
        }
      }
      have_header = true;
      continue;
    }
    if (line.empty()) continue;
    auto f = split(line, ' ');
    if (f.size() < 4 || f.size() > 5) {
      diag(lineno, "expected '<id> <IPv4s> <IPv6s> <names>[ <DNS servers>]', got " + std::to_string(f.size()) +
                       " fields; line skipped");
      continue;
    }
    ContainerEntry c;
    c.id = std::string(f[0]);
    if (c.id.empty()) {
      diag(lineno, "empty container id; line skipped");
      continue;
    }
    auto v4 = parse_ip_list(f[1]);
    auto v6 = parse_ip_list(f[2]);
    if (!v4 || std::any_of(v4->begin(), v4->end(), [](const IpAddress& a) { return !a.is_v4(); })) {
      diag(lineno, "bad IPv4 list '" + std::string(f[1]) + "'; line skipped");
      continue;
    }
    if (!v6 || std::any_of(v6->begin(), v6->end(), [](const IpAddress& a) { return !a.is_v6(); })) {
      diag(lineno, "bad IPv6 list '" + std::string(f[2]) + "'; line skipped");
      continue;
    }
    c.ipv4 = std::move(*v4);
    c.ipv6 = std::move(*v6);
    bool bad = false;
    for (auto n : split(f[3], ',')) {
      auto name = valid_name(n);
      if (!name) {
        diag(lineno, "bad name '" + std::string(n) + "'; line skipped");
        bad = true;
        break;
      }
      c.names.push_back(std::move(*name));
    }
    if (bad) continue;
    if (f.size() == 5) {
      auto servers = parse_ip_list(f[4]);
      if (!servers) {
        diag(lineno, "bad DNS server list '" + std::string(f[4]) + "'; line skipped");
        continue;
      }
      c.dns_servers = std::move(*servers);
    }
    net.containers.push_back(std::move(c));
  }
  if (!have_header) {
    diag(1, "empty file");
    return res;
  }
  res.network = std::move(net);
  return res;
}

bool is_network_file_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  if (name == "aardvark.pid" || name == "aardvark.lock") return false;
  if (name.ends_with(".tmp") || name.ends_with("~")) return false;
  return true;
}

DirResult load_dir(const std::filesystem::path& dir) {
  DirResult res;
  int lock_fd = ::open((dir / ".." / "aardvark.lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (lock_fd >= 0) ::flock(lock_fd, LOCK_SH);

  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    res.dir_missing = true;
  } else {
    std::vector<std::filesystem::path> files;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      std::error_code fec;
      if (!it->is_regular_file(fec)) continue;
      auto name = it->path().filename().string();
      if (!is_network_file_name(name)) continue;
      files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      std::ifstream in(p, std::ios::binary);
      if (!in) {
        res.diagnostics.push_back({p.string(), 0, "cannot read file"});
        continue;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      auto fr = parse_network_file(p.filename().string(), ss.str(), p.string());
      for (auto& d : fr.diagnostics) res.diagnostics.push_back(std::move(d));
      if (fr.network) res.networks.push_back(std::move(*fr.network));
    }
  }
  if (lock_fd >= 0) {
    ::flock(lock_fd, LOCK_UN);
    ::close(lock_fd);
  }
  return res;
}

std::vector<IpAddress> parse_resolv_conf(std::string_view text) {
  std::vector<IpAddress> out;
  for (auto line : split(text, '\n')) {
    std::string l(line);
    for (auto& c : l)
      if (c == '\t' || c == '\r') c = ' ';
    std::istringstream ss(l);
    std::string key, value;
    if (!(ss >> key >> value) || key != "nameserver") continue;
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(value, ec);
    if (!ec) out.push_back(a);
  }
  return out;
}

}  // namespace ferry::dns
