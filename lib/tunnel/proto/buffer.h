// tunnel::proto::Buffer — a growable byte queue with uninitialised append (no memset of 64 KiB
// reads), front consumption and explicit compaction. Owned by one session or its caller; not
// thread-safe. Pointers into it stay valid until the next call that appends, compacts or grows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

namespace tunnel::proto {

class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    Buffer t(std::move(o));
    swap(t);
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  const uint8_t* data() const { return p_.get() + head_; }
  uint8_t* data() { return p_.get() + head_; }
  size_t size() const { return tail_ - head_; }
  bool empty() const { return tail_ == head_; }
  size_t capacity() const { return cap_; }
  size_t room() const { return cap_ - tail_; }  // writable bytes after prepare()
  std::span<const uint8_t> bytes() const { return {data(), size()}; }

  // Makes room for n more bytes at the end (may compact or reallocate) and returns the writable
  // area; nothing is committed until commit(n).
  uint8_t* prepare(size_t n) {
    if (cap_ - tail_ < n) make_room(n);
    return p_.get() + tail_;
  }
  void commit(size_t n) { tail_ += n; }
  uint8_t* append(size_t n) {
    uint8_t* p = prepare(n);
    commit(n);
    return p;
  }
  void append(std::span<const uint8_t> b) {
    if (!b.empty()) std::memcpy(append(b.size()), b.data(), b.size());
  }
  // Drops the last size() - n bytes.
  void truncate(size_t n) {
    if (n < size()) tail_ = head_ + n;
  }
  // Drops n bytes from the front (without moving the rest).
  void consume(size_t n) {
    head_ += n < size() ? n : size();
    if (head_ == tail_) head_ = tail_ = 0;
  }
  void clear() { head_ = tail_ = 0; }
  // Frees the storage if the buffer is empty (idle connections keep no memory).
  void release() {
    if (empty()) {
      p_.reset();
      cap_ = 0;
      head_ = tail_ = 0;
    }
  }
  void swap(Buffer& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(cap_, o.cap_);
    std::swap(head_, o.head_);
    std::swap(tail_, o.tail_);
  }

 private:
  void make_room(size_t n) {
    size_t live = size();
    if (head_ > 0 && cap_ - live >= n && live <= cap_ / 2) {
      std::memmove(p_.get(), p_.get() + head_, live);  // cheap: few live bytes
    } else {
      size_t want = cap_ ? cap_ * 2 : 4096;  // doubling keeps copies amortised
      while (want - live < n) want *= 2;
      std::unique_ptr<uint8_t[]> q(new uint8_t[want]);
      if (live) std::memcpy(q.get(), p_.get() + head_, live);
      p_ = std::move(q);
      cap_ = want;
    }
    head_ = 0;
    tail_ = live;
  }

  std::unique_ptr<uint8_t[]> p_;
  size_t cap_ = 0;
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace tunnel::proto
