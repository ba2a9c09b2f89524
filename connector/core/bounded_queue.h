// A blocking multi-producer / multi-consumer queue bounded in items AND bytes. A full queue blocks
// the producer: that is the pipeline's backpressure (nothing is dropped, memory stays bounded).
// An entry may weigh more than one item (a source batch of N records counts N).
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

  // Blocks while full. An entry larger than max_bytes / max_items is still accepted when the queue
  // is empty, so one oversized entry can never deadlock the pipeline. Returns false once closed.
  bool push(T item, std::size_t bytes, std::size_t weight = 1) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || fits(bytes, weight); });
    if (closed_) return false;
    items_.push_back(Entry{std::move(item), bytes, weight});
    bytes_ += bytes;
    weight_ += weight;
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
  // The summed weight of the queued entries (== size() when every entry weighs 1).
  std::size_t weight() const {
    std::lock_guard lock(mu_);
    return weight_;
  }
  std::size_t max_items() const noexcept { return max_items_; }
  std::size_t max_bytes() const noexcept { return max_bytes_; }

 private:
  struct Entry {
    T item;
    std::size_t bytes;
    std::size_t weight;
  };
  bool fits(std::size_t bytes, std::size_t weight) const {
    if (items_.empty()) return true;
    return weight_ + weight <= max_items_ && bytes_ + bytes <= max_bytes_;
  }
  T take_front() {
    Entry e = std::move(items_.front());
    items_.pop_front();
    bytes_ -= e.bytes;
    weight_ -= e.weight;
    not_full_.notify_all();
    return std::move(e.item);
  }

  const std::size_t max_items_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Entry> items_;
  std::size_t bytes_ = 0;
  std::size_t weight_ = 0;
  bool closed_ = false;
};

}  // namespace siem
