// The slirp4netns API socket (`--api-socket PATH`) and the hand-over of
// Binder calls to the data plane's thread.
//
// ApiServer: a Unix stream socket served by Boost.Asio on a control-plane
// thread of its own. Each connection carries one request: bytes are read
// until EOF (the client's shutdown(SHUT_WR)) or the first newline, then the
// handler's reply is written and the connection closed. A request that
// reaches `max_request` bytes (4096, as slirp4netns's buffer) without a newline
// gets {"error":{"desc":"bad request: too large message"}}; a connection that
// sends nothing for `idle_timeout` is closed without a reply. Connections are
// served concurrently, so a stalled client does not hold up others; requests
// are executed one at a time on the server thread. Nothing thrown by a
// handler escapes the loop. Start-up fails with a message for a path too long
// for sun_path (like slirp4netns: "the specified API socket path is too long
// (>= 108)") or a bind error. A stale socket file at PATH is replaced (other
// file types are not touched); stop() and the destructor remove the file.
//
// PostingBinder: the thread-safe seam between the control plane and the data
// plane. The data plane implements a plain, single-threaded Binder that lives
// on its own thread and gives a `post` function that queues a job on that
// thread (e.g. boost::asio::post on its io_context, or an eventfd-woken queue
// in an io_uring loop). PostingBinder runs each open()/close() there and waits
// for the result up to a timeout; an open() that completes after its caller
// gave up is closed again at once, so no listener leaks. Jobs must run in the
// order posted (then a remove followed by an add of the same port works).
#pragma once

#include "common/expected.hpp"
#include "portfwd/api.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ferry::portfwd {

class ApiServer {
 public:
  struct Options {
    std::string path;
    std::size_t max_request = 4096;
    std::chrono::milliseconds idle_timeout{10000};
  };
  // Called on the server thread with one request (without the newline);
  // returns the reply. Exceptions are caught and answered as errors.
  using Handler = std::function<std::string(std::string_view request)>;

  // Binds and listens on opts.path, then serves on a new thread. When this
  // returns, clients can connect (the moment to signal readiness).
  static Expected<std::unique_ptr<ApiServer>, std::string> start(Options opts, Handler handler);
  // The same in two steps: listen() binds and listens (clients can already
  // connect; the kernel queues them), serve() starts the thread. ferry
  // applies its sandbox between the two, while it still has one thread
  // (common/sandbox.hpp).
  static Expected<std::unique_ptr<ApiServer>, std::string> listen(Options opts, Handler handler);
  Expected<void, std::string> serve();

  ~ApiServer();  // stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Stops serving (open connections are dropped), joins the thread and
  // removes the socket file. Idempotent; not to be called from the handler.
  void stop();
  const std::string& path() const;

  struct Impl;

 private:
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class PostingBinder : public Binder {
 public:
  // Queues `job` to run on the data-plane thread; thread-safe. May throw or
  // drop the job when the data plane is gone (then calls time out).
  using Post = std::function<void(std::function<void()> job)>;

  PostingBinder(std::shared_ptr<Binder> inner, Post post, std::chrono::milliseconds timeout);

  // Error "data plane did not answer within N ms" on timeout.
  Expected<Handle, std::string> open(const Listener& l) override;
  void close(Handle h) override;

 private:
  std::shared_ptr<Binder> inner_;
  Post post_;
  std::chrono::milliseconds timeout_;
};

}  // namespace ferry::portfwd
