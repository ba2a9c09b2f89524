// Crash consistency of every state write: a pull checkpoint (window end, settled point and the
// dedupe window), the privileged-principal roster, and a file source's offset checkpoint. Through
// the StateFileOps seam, each step of StateStore::put (every write of the temporary file, its
// fsync, the rename, the state_dir fsync) is
//   * cut short by a real crash: a child process does the put and _exit()s just before the step,
//     just after it, or (writes) after writing half of the bytes;
//   * failed with an errno (ENOSPC, EIO): put throws an error naming a file in state_dir.
// Each time, the next start (a new StateStore on the same state_dir, as after a restart) reads the
// previous value or the new one, both decoded by their real readers, never "no state"; no
// temporary file survives the next start. A damaged state file is refused with a message naming
// it (state_store_test.cc checks every truncation and bit flip). Short writes are completed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "connector/enrichment/roster.h"
#include "connector/sources/graph/pull_engine.h"
#include "connector/state/state_store.h"

namespace siem {
namespace {

constexpr int kCrashed = 77;

enum class Fault { none, crash_before, crash_after, crash_mid_write, fail_enospc, fail_eio, short_writes };

const char* name(Fault f) {
  switch (f) {
    case Fault::none:
      return "none";
    case Fault::crash_before:
      return "crash before";
    case Fault::crash_after:
      return "crash after";
    case Fault::crash_mid_write:
      return "crash after half the bytes of";
    case Fault::fail_enospc:
      return "ENOSPC from";
    case Fault::fail_eio:
      return "EIO from";
    case Fault::short_writes:
      return "short writes";
  }
  return "?";
}

// Counts the steps of a put and injects `fault` at step `at` (every step for short_writes).
class FaultyOps final : public StateFileOps {
 public:
  FaultyOps(Fault fault, int at) : fault_(fault), at_(at) {}
  std::vector<std::string> steps;

  ssize_t write(int fd, const void* data, std::size_t size) override {
    if (fault_ == Fault::short_writes)
      return StateFileOps::write(fd, data, std::max<std::size_t>(1, size / 3));
    if (hit("write")) {
      if (fault_ == Fault::crash_mid_write) {
        (void)!StateFileOps::write(fd, data, size / 2);
        ::_exit(kCrashed);
      }
      if (auto rc = inject([&] { return static_cast<int>(StateFileOps::write(fd, data, size)); })) return *rc;
    }
    return StateFileOps::write(fd, data, size);
  }
  int fsync(int fd) override {
    return step("fsync", [&] { return StateFileOps::fsync(fd); });
  }
  int rename(int dir_fd, const char* from, const char* to) override {
    return step("rename", [&] { return StateFileOps::rename(dir_fd, from, to); });
  }
  int fsync_dir(int fd) override {
    return step("fsync_dir", [&] { return StateFileOps::fsync_dir(fd); });
  }

 private:
  bool hit(const char* what) {
    steps.emplace_back(what);
    return static_cast<int>(steps.size()) - 1 == at_;
  }
  // The fault at this step: exits for crashes, returns -1 with errno for failures.
  std::optional<int> inject(const std::function<int()>& op) {
    switch (fault_) {
      case Fault::crash_before:
        ::_exit(kCrashed);
      case Fault::crash_after:
        (void)op();
        ::_exit(kCrashed);
      case Fault::fail_enospc:
        errno = ENOSPC;
        return -1;
      case Fault::fail_eio:
        errno = EIO;
        return -1;
      default:
        return std::nullopt;
    }
  }
  int step(const char* what, const std::function<int()>& op) {
    if (hit(what) && fault_ != Fault::crash_mid_write)
      if (auto rc = inject(op)) return *rc;
    return op();
  }

  Fault fault_;
  int at_;
};

// One kind of state: its key, an old and a new value, and its reader (throws on what it cannot read).
struct Kind {
  std::string key;
  std::string old_value, new_value;
  std::function<std::string(const std::string&)> read;  // decoded and re-encoded
};

std::vector<Kind> kinds() {
  using namespace sources;
  StreamCheckpoint a;
  a.end = parse_time("2026-11-20T10:00:00Z");
  a.settled = parse_time("2026-11-20T08:00:00Z");
  a.seen = {{"id-1", *parse_time("2026-11-20T09:00:00Z")}};
  StreamCheckpoint b = a;
  b.end = parse_time("2026-11-20T11:00:00Z");
  b.seen.emplace_back("id-2|2026-11-20T10:30:00Z", *parse_time("2026-11-20T10:30:00Z"));
  Roster r1, r2;
  r1.grant({"alice@contoso.example", "a1"}, "62e90394-69f5-4237-9190-012177145e10", 0, 1'700'000'000'000);
  r2 = r1;
  r2.grant({"bob@contoso.example", "b2"}, "e8611ab8-c189-46e8-94e1-60213ab1f814", 1, 1'700'000'100'000, true);
  return {
      {"checkpoint.graph-audits", encode_checkpoint({{"directoryAudits", a}}),
       encode_checkpoint({{"directoryAudits", b}}),
       [](const std::string& v) { return encode_checkpoint(decode_checkpoint(v)); }},
      {"roster", r1.serialize(), r2.serialize(),
       [](const std::string& v) {
         Roster r;
         r.deserialize(v);
         return r.serialize();
       }},
      {"checkpoint.file-logs", R"({"file":"/var/log/x.ndjson","inode":99,"offset":1234})",
       R"({"file":"/var/log/x.ndjson","inode":99,"offset":98765})", [](const std::string& v) { return v; }},
  };
}

class StateCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("siem-state-crash-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The steps of one put, from a run without faults.
  std::vector<std::string> steps_of_a_put() {
    auto ops = std::make_shared<FaultyOps>(Fault::none, -1);
    StateStore s(dir_ / "probe", ops);
    s.put("k", "value");
    return ops->steps;
  }

  // Starts over with `old` stored (nothing when empty), then puts `next` under `fault` at `step`.
  // Returns the exit status of the crashed child, or -1 when the put ran in this process.
  int put_with_fault(const Kind& k, bool with_old, Fault fault, int step, std::string* error) {
    std::filesystem::remove_all(dir_);
    if (with_old) StateStore(dir_).put(k.key, k.old_value);
    const bool crash =
        fault == Fault::crash_before || fault == Fault::crash_after || fault == Fault::crash_mid_write;
    if (!crash) {
      StateStore s(dir_, std::make_shared<FaultyOps>(fault, step));
      try {
        s.put(k.key, k.new_value);
      } catch (const std::exception& e) {
        *error = e.what();
      }
      return -1;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      try {
        StateStore s(dir_, std::make_shared<FaultyOps>(fault, step));
        s.put(k.key, k.new_value);
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
  }

  std::filesystem::path dir_;
};

TEST_F(StateCrashTest, EveryStepOfEveryWriteRecoversThePreviousOrTheNewState) {
  const auto steps = steps_of_a_put();
  ASSERT_EQ(steps, (std::vector<std::string>{"write", "write", "fsync", "rename", "fsync_dir"}));
  int cases = 0;
  for (const auto& k : kinds()) {
    for (const bool with_old : {true, false}) {
      for (const Fault fault : {Fault::crash_before, Fault::crash_after, Fault::crash_mid_write,
                                Fault::fail_enospc, Fault::fail_eio}) {
        for (int step = 0; step < static_cast<int>(steps.size()); ++step) {
          if (fault == Fault::crash_mid_write && steps[step] != "write") continue;
          SCOPED_TRACE(k.key + ": " + name(fault) + " step " + std::to_string(step) + " (" + steps[step] +
                       ")" + (with_old ? "" : ", first write"));
          ++cases;
          std::string error;
          const int exit = put_with_fault(k, with_old, fault, step, &error);
          if (exit != -1) {
            ASSERT_EQ(exit, kCrashed) << "the child did not crash where asked";
          } else {
            // A failed put says so, naming a file (or the directory) in state_dir.
            ASSERT_FALSE(error.empty()) << "the fault did not make put fail";
            EXPECT_NE(error.find(dir_.string()), std::string::npos) << error;
          }
          // The next start reads the new value once the rename happened, else the previous one.
          const bool renamed = step > 3 || (step == 3 && fault == Fault::crash_after);
          StateStore next(dir_);
          std::optional<std::string> got;
          ASSERT_NO_THROW(got = next.get(k.key));
          for (const auto& e : std::filesystem::directory_iterator(dir_))
            EXPECT_TRUE(e.path().filename() == "LOCK" || e.path().extension() == ".state")
                << "left behind: " << e.path();
          if (!renamed && !with_old) {
            EXPECT_FALSE(got) << "a value that was never completely written";
            continue;
          }
          ASSERT_TRUE(got) << "the previous state was lost: the next start would begin from zero";
          EXPECT_EQ(k.read(*got), k.read(renamed ? k.new_value : k.old_value)) << *got;
        }
      }
    }
  }
  EXPECT_EQ(cases, 3 * 2 * (4 * 5 + 2));
}

TEST_F(StateCrashTest, ShortWritesAreCompleted) {
  for (const auto& k : kinds()) {
    std::filesystem::remove_all(dir_);
    {
      StateStore s(dir_, std::make_shared<FaultyOps>(Fault::short_writes, -1));
      s.put(k.key, k.new_value);
    }
    StateStore next(dir_);
    EXPECT_EQ(next.get(k.key), k.new_value) << k.key;
  }
}

TEST_F(StateCrashTest, ADamagedStateFileIsRefusedNamingIt) {
  for (const auto& k : kinds()) {
    std::filesystem::remove_all(dir_);
    std::filesystem::path file;
    {
      StateStore s(dir_);
      s.put(k.key, k.new_value);
      file = s.file_for(k.key);
    }
    std::filesystem::resize_file(file, std::filesystem::file_size(file) - 1);  // torn by a power loss
    StateStore next(dir_);
    try {
      (void)next.get(k.key);
      ADD_FAILURE() << k.key << ": a torn state file was accepted";
    } catch (const StateCorruptError& e) {
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("refusing to start from scratch silently"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace siem
