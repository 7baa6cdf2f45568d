// Fuzz target: the slirp4netns API request parser and the registry, driven
// through ForwardRegistry::handle() with a binder that always succeeds. The
// input is split at newlines into requests, as separate connections would
// send them. Every reply must be JSON with exactly one of "return", "entries"
// or "error".
#include "portfwd/api.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
class NullBinder : public ferry::portfwd::Binder {
 public:
  ferry::Expected<Handle, std::string> open(const ferry::portfwd::Listener&) override {
    if (++n_ % 7 == 0) return ferry::unexpected(std::string("bind: Address already in use"));
    return n_;
  }
  void close(Handle) override {}

 private:
  Handle n_ = 0;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  NullBinder binder;
  ferry::portfwd::ApiConfig cfg;
  cfg.guest6 = boost::asio::ip::make_address_v6("fd00::100");
  ferry::portfwd::ForwardRegistry reg(cfg, binder);
  while (true) {
    std::size_t nl = in.find('\n');
    std::string reply = reg.handle(in.substr(0, nl));
    boost::system::error_code ec;
    auto v = boost::json::parse(reply, ec);
    if (ec || !v.is_object() || v.as_object().size() != 1) std::abort();
    if (nl == std::string_view::npos) break;
    in = in.substr(nl + 1);
  }
  return 0;
}
