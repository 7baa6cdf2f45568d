// ferry::Expected<T, E>: a value or an error, the subset of C++23's
// std::expected that ferry uses. Own because the toolchains ferry must build
// with disagree: g++ 12 has std::expected, but clang 14 (libFuzzer builds)
// cannot use libstdc++'s. Parsers of outside input return it instead of
// throwing.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace ferry {

template <class E>
struct Unexpected {
  E error;
};

template <class E>
Unexpected<std::decay_t<E>> unexpected(E&& e) {
  return {std::forward<E>(e)};
}

template <class T, class E>
class Expected {
 public:
  Expected(const T& v) : v_(std::in_place_index<0>, v) {}
  Expected(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}
  template <class G>
  Expected(Unexpected<G> u) : v_(std::in_place_index<1>, std::move(u.error)) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  E& error() { return std::get<1>(v_); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class Expected<void, E> {
 public:
  Expected() = default;
  template <class G>
  Expected(Unexpected<G> u) : e_(std::move(u.error)) {}

  bool has_value() const { return !e_; }
  explicit operator bool() const { return has_value(); }
  E& error() { return *e_; }
  const E& error() const { return *e_; }

 private:
  std::optional<E> e_;
};

}  // namespace ferry
