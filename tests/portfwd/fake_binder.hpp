// FakeBinder: a Binder for tests that opens nothing. It records every
// Listener it was asked for, hands out handles 1, 2, 3..., tracks which are
// still open, and can be told to fail the next open() calls with a given text.
// A rule can also fail every open() of a chosen Listener.
// Thread-safe, so tests may inspect it while the API server thread uses it.
#pragma once

#include "portfwd/api.hpp"

#include <deque>
#include <functional>
#include <optional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ferry::portfwd::testing {

class FakeBinder : public Binder {
 public:
  Expected<Handle, std::string> open(const Listener& l) override {
    std::lock_guard lock(mu_);
    opened_.push_back(l);
    last_thread_ = std::this_thread::get_id();
    if (rule_) {
      if (auto e = rule_(l)) return unexpected(*e);
    }
    if (!failures_.empty()) {
      std::string e = failures_.front();
      failures_.pop_front();
      return unexpected(e);
    }
    Handle h = next_++;
    open_[h] = l;
    return h;
  }
  void close(Handle h) override {
    std::lock_guard lock(mu_);
    last_thread_ = std::this_thread::get_id();
    closed_.push_back(h);
    open_.erase(h);
  }

  void fail_next_open(std::string error) {
    std::lock_guard lock(mu_);
    failures_.push_back(std::move(error));
  }
  // Returns an error text for the listeners that must fail, nullopt otherwise.
  void fail_when(std::function<std::optional<std::string>(const Listener&)> rule) {
    std::lock_guard lock(mu_);
    rule_ = std::move(rule);
  }
  std::vector<Listener> opened() const {
    std::lock_guard lock(mu_);
    return opened_;
  }
  std::map<Handle, Listener> open_now() const {
    std::lock_guard lock(mu_);
    return open_;
  }
  std::vector<Handle> closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  std::thread::id last_thread() const {
    std::lock_guard lock(mu_);
    return last_thread_;
  }

 private:
  mutable std::mutex mu_;
  Handle next_ = 1;
  std::vector<Listener> opened_;
  std::map<Handle, Listener> open_;
  std::vector<Handle> closed_;
  std::deque<std::string> failures_;
  std::function<std::optional<std::string>(const Listener&)> rule_;
  std::thread::id last_thread_;
};

}  // namespace ferry::portfwd::testing
