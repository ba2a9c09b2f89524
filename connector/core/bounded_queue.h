// A blocking multi-producer / multi-consumer queue bounded in items AND bytes. A full queue blocks
// the producer: that is the pipeline's backpressure (nothing is dropped, memory stays bounded).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace siem {

template <typename T>
class BoundedQueue {
 public:
  BoundedQueue(std::size_t max_items, std::size_t max_bytes) : max_items_(max_items), max_bytes_(max_bytes) {}

  // Blocks while full. An item larger than max_bytes is still accepted when the queue is empty,
  // so one oversized item can never deadlock the pipeline. Returns false once closed.
  bool push(T item, std::size_t bytes) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || fits(bytes); });
    if (closed_) return false;
    items_.push_back(Entry{std::move(item), bytes});
    bytes_ += bytes;
    not_empty_.notify_one();
    return true;
  }

  // Blocks until an item is available; nullopt once closed and drained.
  std::optional<T> pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    return take_front();
  }

  // Collects up to max_items / max_bytes, waiting at most `linger` after the first item for the
  // batch to fill. Returns an empty vector only when closed and drained.
  std::vector<T> pop_batch(std::size_t max_items, std::size_t max_bytes, std::chrono::milliseconds linger) {
    std::vector<T> out;
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    const auto deadline = std::chrono::steady_clock::now() + linger;
    std::size_t batch_bytes = 0;
    while (out.size() < max_items) {
      if (items_.empty()) {
        if (closed_ || !not_empty_.wait_until(lock, deadline, [&] { return closed_ || !items_.empty(); })) break;
        if (items_.empty()) break;
      }
      if (!out.empty() && batch_bytes + items_.front().bytes > max_bytes) break;
      batch_bytes += items_.front().bytes;
      out.push_back(take_front());
    }
    return out;
  }

  // Wakes every waiter; pushes fail from now on, pops drain what is left.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  std::size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  std::size_t max_items() const noexcept { return max_items_; }
  std::size_t max_bytes() const noexcept { return max_bytes_; }

 private:
  struct Entry {
    T item;
    std::size_t bytes;
  };
  bool fits(std::size_t bytes) const {
    if (items_.empty()) return true;
    return items_.size() < max_items_ && bytes_ + bytes <= max_bytes_;
  }
  T take_front() {
    Entry e = std::move(items_.front());
    items_.pop_front();
    bytes_ -= e.bytes;
    not_full_.notify_all();
    return std::move(e.item);
  }

  const std::size_t max_items_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Entry> items_;
  std::size_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace siem
