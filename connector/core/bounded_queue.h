// A blocking multi-producer / multi-consumer queue bounded in items AND bytes. A full queue blocks
// the producer: that is the pipeline's backpressure (nothing is dropped, memory stays bounded).
// An entry may weigh more than one item (a source batch of N records counts N).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
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
    if (!closed_ && !fits(bytes, weight)) {
      // Full: a consumer lingering for a fuller batch takes what is here now.
      ++times_full_;
      if (lingering_ > 0) not_empty_.notify_all();
      not_full_.wait(lock, [&] { return closed_ || fits(bytes, weight); });
    }
    if (closed_) return false;
    items_.push_back(Entry{std::move(item), bytes, weight});
    bytes_ += bytes;
    weight_ += weight;
    const Wake w = consumers_to_wake(1, false);
    lock.unlock();
    wake(w);
    return true;
  }

  // Pushes items[i] (charged bytes[i], weight 1 each) in order under one lock, with at most one
  // wake-up of the consumers for what it pushed (more only when it has to wait): the same bounds
  // as push() entry by entry, never more (an entry over the bounds alone is accepted only by an
  // empty queue). When the next entry does not fit, it wakes the consumers for what it pushed so
  // far and waits for room, as push() does. Returns how many it pushed: all of them, or fewer
  // once the queue closed (the entries from there on are left in `items`, not moved from).
  std::size_t push_all(std::span<T> items, std::span<const std::size_t> bytes) {
    const std::size_t n = std::min(items.size(), bytes.size());
    std::unique_lock lock(mu_);
    std::size_t i = 0;
    std::size_t unannounced = 0;  // pushed since the consumers were last woken
    while (i < n) {
      if (!closed_ && !fits(bytes[i], 1)) {
        // Full: the consumers get what was pushed (a lingering one takes what is here now).
        ++times_full_;
        wake(consumers_to_wake(unannounced, true));  // before the wait releases the lock
        unannounced = 0;
        not_full_.wait(lock, [&] { return closed_ || fits(bytes[i], 1); });
      }
      if (closed_) break;
      do {
        items_.push_back(Entry{std::move(items[i]), bytes[i], 1});
        bytes_ += bytes[i];
        weight_ += 1;
        ++unannounced;
      } while (++i < n && fits(bytes[i], 1));
    }
    const Wake w = consumers_to_wake(unannounced, false);
    lock.unlock();
    wake(w);
    return i;
  }

  // Blocks until an item is available; nullopt once closed and drained.
  std::optional<T> pop() {
    std::unique_lock lock(mu_);
    wait_for_first(lock);
    if (items_.empty()) return std::nullopt;
    T item = take_front();
    lock.unlock();
    not_full_.notify_all();  // unlocked: a producer it wakes does not block on the lock at once
    return item;
  }

  // Collects up to max_items / max_bytes, waiting at most `linger` after the first item for the
  // batch to fill. Returns an empty vector only when closed and drained.
  std::vector<T> pop_batch(std::size_t max_items, std::size_t max_bytes, std::chrono::milliseconds linger) {
    std::vector<T> out;
    std::unique_lock lock(mu_);
    wait_for_first(lock);
    const auto deadline = std::chrono::steady_clock::now() + linger;
    std::size_t batch_bytes = 0;
    bool timed_out = false;
    while (true) {
      while (!items_.empty() && out.size() < max_items &&
             (out.empty() || batch_bytes + items_.front().bytes <= max_bytes)) {
        batch_bytes += items_.front().bytes;
        out.push_back(take_front());
      }
      // Full by count, full by bytes (the next entry does not fit, or no more bytes may come),
      // closing, or out of time.
      if (out.size() >= max_items || batch_bytes >= max_bytes || !items_.empty() || closed_ || timed_out) break;
      // The queue is empty and the batch is not full: free the room taken so far, then wait until
      // what is queued can complete the batch, the queue is full (a producer waits), it closes, or
      // the deadline passes.
      not_full_.notify_all();
      timed_out = !linger_wait(lock, deadline, max_items - out.size(),
                               max_bytes > batch_bytes ? max_bytes - batch_bytes : 0);
    }
    lock.unlock();
    not_full_.notify_all();  // unlocked: a producer it wakes does not block on the lock at once
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
  // Which consumers to wake after `pushed` entries (mu_ held): one waiting for its first item at
  // once; one that lingers to fill a batch only once the batch can be full, or (`full`) a producer
  // found the queue full (it wakes at its deadline anyway): not once per pushed event, which cost
  // a futex wake and two context switches per event. The wake-up itself may follow the unlock: a
  // consumer that starts lingering in between found the queue empty (it took what was there), and
  // an entry pushed later computes its own wake-up with that consumer counted.
  enum class Wake : std::uint8_t { none, one, all };
  Wake consumers_to_wake(std::size_t pushed, bool full) const {
    if (pushed == 0) return full && lingering_ > 0 ? Wake::all : Wake::none;
    if (idle_waiters_ > 0) {
      // One condition for both kinds of waiter; several entries may serve several idle consumers.
      return lingering_ > 0 || (pushed > 1 && idle_waiters_ > 1) ? Wake::all : Wake::one;
    }
    if (lingering_ > 0 && (full || items_.size() >= linger_items_ || bytes_ >= linger_bytes_)) return Wake::all;
    return Wake::none;
  }
  void wake(Wake w) {
    if (w == Wake::one) not_empty_.notify_one();
    else if (w == Wake::all) not_empty_.notify_all();
  }
  bool fits(std::size_t bytes, std::size_t weight) const {
    if (items_.empty()) return true;
    return weight_ + weight <= max_items_ && bytes_ + bytes <= max_bytes_;
  }
  // Callers wake the producers (not_full_) once they are done taking.
  T take_front() {
    Entry e = std::move(items_.front());
    items_.pop_front();
    bytes_ -= e.bytes;
    weight_ -= e.weight;
    return std::move(e.item);
  }
  void wait_for_first(std::unique_lock<std::mutex>& lock) {
    ++idle_waiters_;
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    --idle_waiters_;
  }
  // False when the deadline passed first.
  bool linger_wait(std::unique_lock<std::mutex>& lock, std::chrono::steady_clock::time_point deadline,
                   std::size_t need_items, std::size_t need_bytes) {
    ++lingering_;
    linger_items_ = std::min(linger_items_, need_items);
    linger_bytes_ = std::min(linger_bytes_, need_bytes);
    // A producer already waiting was just given room; only one that finds the queue full again
    // while this consumer waits ends the wait.
    const std::uint64_t full_before = times_full_;
    const bool woke = not_empty_.wait_until(lock, deadline, [&] {
      return closed_ || times_full_ != full_before || items_.size() >= need_items || bytes_ >= need_bytes;
    });
    if (--lingering_ == 0) {
      linger_items_ = kNoNeed;
      linger_bytes_ = kNoNeed;
    }
    return woke;
  }

  static constexpr std::size_t kNoNeed = static_cast<std::size_t>(-1);

  const std::size_t max_items_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Entry> items_;
  std::size_t bytes_ = 0;
  std::size_t idle_waiters_ = 0;            // consumers waiting for a first item
  std::uint64_t times_full_ = 0;            // how often a producer found the queue full
  std::size_t lingering_ = 0;               // consumers waiting for a batch to fill
  std::size_t linger_items_ = kNoNeed;      // the smallest count / bytes that completes one of those
  std::size_t linger_bytes_ = kNoNeed;
  std::size_t weight_ = 0;
  bool closed_ = false;
};

}  // namespace siem
