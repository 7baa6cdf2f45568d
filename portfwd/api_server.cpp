// The API socket server and PostingBinder; see api_server.hpp.
//
// Server structure: one io_context run by one thread. The acceptor re-arms
// after every connection; each connection is a Session (shared_ptr kept alive
// by its pending handlers) with a buffer, an idle timer and three steps:
// read_some until newline/EOF/limit -> handler -> write reply, close. Errors
// of one session only end that session.
#include "portfwd/api_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace ferry::portfwd {

namespace asio = boost::asio;
using unix_stream = asio::local::stream_protocol;

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(unix_stream::socket sock, const ApiServer::Handler& handler, std::size_t max_request,
          std::chrono::milliseconds idle)
      : sock_(std::move(sock)),
        timer_(sock_.get_executor()),
        handler_(handler),
        max_(max_request),
        idle_(idle) {}

  void start() {
    arm_timer();
    read();
  }

 private:
  void arm_timer() {
    timer_.expires_after(idle_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;  // cancelled: the request arrived
      spdlog::warn("api socket: client sent no complete request within {} ms, closing",
                   self->idle_.count());
      self->finish();
    });
  }

  void read() {
    sock_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](
                                                    boost::system::error_code ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (done_) return;
    if (n > 0) {
      std::size_t old = buf_.size();
      buf_.append(chunk_.data(), n);
      std::size_t nl = buf_.find('\n', old);
      if (nl != std::string::npos && nl < max_) {
        buf_.resize(nl);
        return respond(false);
      }
      if (buf_.size() >= max_) return respond(true);
    }
    if (ec == asio::error::eof) return respond(false);
    if (ec) {
      spdlog::debug("api socket: read: {}", ec.message());
      return finish();
    }
    read();
  }

  void respond(bool too_large) {
    timer_.cancel();
    if (too_large) {
      spdlog::warn("api socket: too large message (>= {} bytes)", max_);
      reply_ = error_reply(desc::too_large);
    } else {
      spdlog::debug("api socket: request: {}", buf_);
      try {
        reply_ = handler_(buf_);
      } catch (const std::exception& e) {
        reply_ = error_reply(std::string("bad request: internal error: ") + e.what());
      } catch (...) {
        reply_ = error_reply("bad request: internal error");
      }
    }
    asio::async_write(sock_, asio::buffer(reply_),
                      [self = shared_from_this()](boost::system::error_code wec, std::size_t) {
                        if (wec) spdlog::debug("api socket: write: {}", wec.message());
                        self->finish();
                      });
  }

  void finish() {
    if (done_) return;
    done_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    sock_.shutdown(unix_stream::socket::shutdown_both, ignored);
    sock_.close(ignored);
  }

  unix_stream::socket sock_;
  asio::steady_timer timer_;
  const ApiServer::Handler& handler_;
  const std::size_t max_;
  const std::chrono::milliseconds idle_;
  std::array<char, 4096> chunk_{};
  std::string buf_;
  std::string reply_;
  bool done_ = false;
};

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

struct ApiServer::Impl {
  Options opts;
  Handler handler;
  asio::io_context io{1};
  unix_stream::acceptor acceptor{io};
  asio::steady_timer retry{io};
  std::thread thread;
  bool stopped = false;
  std::mutex stop_mu;

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, unix_stream::socket sock) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // E.g. EMFILE: back off instead of spinning; the listener stays.
        spdlog::warn("api socket: accept: {}", ec.message());
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](boost::system::error_code tec) {
          if (!tec) accept();
        });
        return;
      }
      std::make_shared<Session>(std::move(sock), handler, opts.max_request, opts.idle_timeout)
          ->start();
      accept();
    });
  }

  void run() {
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("api socket: unexpected exception: {}", e.what());
      } catch (...) {
        spdlog::error("api socket: unexpected exception");
      }
    }
  }
};

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiServer::~ApiServer() { stop(); }

const std::string& ApiServer::path() const { return impl_->opts.path; }

Expected<std::unique_ptr<ApiServer>, std::string> ApiServer::start(Options opts, Handler handler) {
  auto server = listen(std::move(opts), std::move(handler));
  if (!server) return server;
  if (auto r = (*server)->serve(); !r) return unexpected(r.error());
  return server;
}

Expected<void, std::string> ApiServer::serve() {
  if (impl_->thread.joinable()) return {};
  Impl* raw = impl_.get();
  try {
    impl_->thread = std::thread([raw] { raw->run(); });
  } catch (const std::exception& e) {
    ::unlink(impl_->opts.path.c_str());
    return unexpected("api socket: cannot start thread: " + std::string(e.what()));
  }
  return {};
}

Expected<std::unique_ptr<ApiServer>, std::string> ApiServer::listen(Options opts, Handler handler) {
  constexpr std::size_t sun_path_size = sizeof(sockaddr_un::sun_path);
  if (opts.path.empty()) return unexpected(std::string("the API socket path is empty"));
  if (opts.path.size() >= sun_path_size)
    return unexpected("the specified API socket path is too long (>= " +
                      std::to_string(sun_path_size) + ")");
  if (opts.max_request == 0) opts.max_request = 1;
  if (!handler) return unexpected(std::string("no API request handler"));

  auto impl = std::make_unique<Impl>();
  impl->opts = std::move(opts);
  impl->handler = std::move(handler);
  const std::string& path = impl->opts.path;

  // Replace a stale socket (a previous run's); refuse to remove anything else.
  if (is_socket(path)) ::unlink(path.c_str());

  boost::system::error_code ec;
  unix_stream::endpoint ep(path);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (ec) return unexpected("api socket " + path + ": bind: " + ec.message());
  impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return unexpected("api socket " + path + ": listen: " + ec.message());
  }
  impl->accept();
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

void ApiServer::stop() {
  if (!impl_) return;
  std::lock_guard lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  if (is_socket(impl_->opts.path)) ::unlink(impl_->opts.path.c_str());
}

// ---- PostingBinder ---------------------------------------------------------

namespace {

// Shared between a waiting caller and the job on the data-plane thread.
struct OpenCall {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool abandoned = false;
  std::optional<Expected<Binder::Handle, std::string>> result;
};

struct CloseCall {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

}  // namespace

PostingBinder::PostingBinder(std::shared_ptr<Binder> inner, Post post,
                             std::chrono::milliseconds timeout)
    : inner_(std::move(inner)), post_(std::move(post)), timeout_(timeout) {}

Expected<Binder::Handle, std::string> PostingBinder::open(const Listener& l) {
  auto call = std::make_shared<OpenCall>();
  try {
    post_([call, inner = inner_, l] {
      Expected<Handle, std::string> r = unexpected(std::string("data plane error"));
      try {
        r = inner->open(l);
      } catch (const std::exception& e) {
        r = unexpected(std::string(e.what()));
      }
      std::lock_guard lock(call->mu);
      if (call->abandoned) {
        if (r) inner->close(*r);  // the caller already answered "failed"
        return;
      }
      call->result = std::move(r);
      call->done = true;
      call->cv.notify_all();
    });
  } catch (const std::exception& e) {
    return unexpected("cannot reach the data plane: " + std::string(e.what()));
  }
  std::unique_lock lock(call->mu);
  if (!call->cv.wait_for(lock, timeout_, [&] { return call->done; })) {
    call->abandoned = true;
    return unexpected("data plane did not answer within " + std::to_string(timeout_.count()) +
                      " ms");
  }
  return std::move(*call->result);
}

void PostingBinder::close(Handle h) {
  auto call = std::make_shared<CloseCall>();
  try {
    post_([call, inner = inner_, h] {
      try {
        inner->close(h);
      } catch (const std::exception& e) {
        spdlog::error("portfwd: closing listener {}: {}", h, e.what());
      }
      std::lock_guard lock(call->mu);
      call->done = true;
      call->cv.notify_all();
    });
  } catch (const std::exception& e) {
    spdlog::error("portfwd: cannot reach the data plane to close listener {}: {}", h, e.what());
    return;
  }
  std::unique_lock lock(call->mu);
  if (!call->cv.wait_for(lock, timeout_, [&] { return call->done; }))
    spdlog::warn("portfwd: data plane did not confirm closing listener {} within {} ms", h,
                 timeout_.count());
}

}  // namespace ferry::portfwd
