#include "connector/core/ack_tracker.h"

#include <stdexcept>

namespace siem {

AckTracker::AckTracker(std::uint32_t acks_per_event) : acks_per_event_(acks_per_event) {
  if (acks_per_event_ == 0) throw std::invalid_argument("AckTracker needs at least one sink");
}

std::uint32_t AckTracker::add_source() {
  std::lock_guard lock(mu_);
  sources_.emplace_back();
  return static_cast<std::uint32_t>(sources_.size() - 1);
}

std::uint64_t AckTracker::begin_batch(std::uint32_t source, std::size_t count, std::optional<std::string> checkpoint) {
  std::lock_guard lock(mu_);
  auto& s = sources_.at(source);
  const std::uint64_t first = s.base + s.remaining.size();
  s.remaining.insert(s.remaining.end(), count, acks_per_event_);
  outstanding_ += count;
  if (checkpoint) s.pending[first + count] = std::move(*checkpoint);
  advance(s);  // an empty batch's checkpoint may be eligible at once
  return first;
}

void AckTracker::settle(PerSource& s, std::uint64_t seq, std::uint32_t count) {
  if (seq < s.base) return;  // already done (duplicate acknowledgement)
  const auto idx = static_cast<std::size_t>(seq - s.base);
  if (idx >= s.remaining.size()) throw std::logic_error("acknowledgement for an unknown sequence number");
  auto& left = s.remaining[idx];
  if (left == 0) return;
  const std::uint32_t before = left;
  left = count >= left ? 0 : left - count;
  if (before != 0 && left == 0) --outstanding_;
}

void AckTracker::advance(PerSource& s) {
  while (!s.remaining.empty() && s.remaining.front() == 0) {
    s.remaining.pop_front();
    ++s.base;
  }
  // Every checkpoint whose end is at or below the watermark is eligible; keep the newest.
  auto it = s.pending.begin();
  while (it != s.pending.end() && it->first <= s.base) {
    s.ready = std::move(it->second);
    it = s.pending.erase(it);
  }
}

void AckTracker::ack(const std::vector<AckHandle>& handles) {
  std::lock_guard lock(mu_);
  for (const auto& h : handles) settle(sources_.at(h.source), h.seq, 1);
  for (auto& s : sources_) advance(s);
}

void AckTracker::ack(AckHandle handle) {
  std::lock_guard lock(mu_);
  auto& s = sources_.at(handle.source);
  settle(s, handle.seq, 1);
  advance(s);
}

void AckTracker::complete(AckHandle handle) {
  std::lock_guard lock(mu_);
  auto& s = sources_.at(handle.source);
  settle(s, handle.seq, acks_per_event_);
  advance(s);
}

void AckTracker::release(AckHandle handle, std::uint32_t count) {
  std::lock_guard lock(mu_);
  auto& s = sources_.at(handle.source);
  settle(s, handle.seq, count);
  advance(s);
}

std::vector<std::pair<std::uint32_t, std::string>> AckTracker::take_ready() {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::uint32_t, std::string>> out;
  for (std::uint32_t i = 0; i < sources_.size(); ++i) {
    if (sources_[i].ready) {
      out.emplace_back(i, std::move(*sources_[i].ready));
      sources_[i].ready.reset();
    }
  }
  return out;
}

std::uint64_t AckTracker::outstanding() const {
  std::lock_guard lock(mu_);
  return outstanding_;
}

std::uint64_t AckTracker::watermark(std::uint32_t source) const {
  std::lock_guard lock(mu_);
  return sources_.at(source).base;
}

}  // namespace siem
