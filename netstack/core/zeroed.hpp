// A fixed-size array for the translator's tables, which are sized for the
// worst case (16,384 TCP flows, a hash index twice that) but mostly empty:
// the memory comes from calloc, so it starts as zero bytes and, being fresh
// pages of a large allocation, becomes resident only where a flow is
// written. A std::vector would construct (write) every element at start:
// megabytes resident in an idle translator.
//
// T must be an aggregate of trivially copyable members whose all-zero bytes
// are the "unused" state: the element's default member initializers do
// not run here (code that takes a slot into use assigns a fresh T).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>

namespace ferry::core {

template <class T>
class ZeroedArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "ZeroedArray holds plain records: zero bytes must be a valid element");

 public:
  explicit ZeroedArray(size_t n) : p_(static_cast<T*>(std::calloc(n ? n : 1, sizeof(T)))), n_(n) {
    if (!p_) throw std::bad_alloc();
  }
  ~ZeroedArray() { std::free(p_); }
  ZeroedArray(const ZeroedArray&) = delete;
  ZeroedArray& operator=(const ZeroedArray&) = delete;

  T& operator[](size_t i) { return p_[i]; }
  const T& operator[](size_t i) const { return p_[i]; }
  size_t size() const { return n_; }
  T* data() { return p_; }
  const T* data() const { return p_; }

 private:
  T* p_;
  size_t n_;
};

}  // namespace ferry::core
