#include "connector/state/state_store.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <memory>
#include <thread>
#include <vector>

namespace siem {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("siem-state-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static std::string read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::filesystem::path dir_;
};

TEST_F(StateStoreTest, RoundTripAndAbsentKeys) {
  StateStore s(dir_);
  EXPECT_FALSE(s.get("checkpoint.a").has_value());
  s.put("checkpoint.a", R"({"offset":42})");
  EXPECT_EQ(s.get("checkpoint.a"), R"({"offset":42})");
  s.put("checkpoint.a", "");
  EXPECT_EQ(s.get("checkpoint.a"), "");
  s.erase("checkpoint.a");
  EXPECT_FALSE(s.get("checkpoint.a").has_value());
}

TEST_F(StateStoreTest, KeysWithOddCharactersDoNotCollide) {
  StateStore s(dir_);
  s.put("checkpoint.a/b", "1");
  s.put("checkpoint.a_b", "2");
  s.put("../escape", "3");
  EXPECT_EQ(s.get("checkpoint.a/b"), "1");
  EXPECT_EQ(s.get("checkpoint.a_b"), "2");
  EXPECT_EQ(s.get("../escape"), "3");
  for (const auto& e : std::filesystem::directory_iterator(dir_))
    EXPECT_EQ(e.path().parent_path(), dir_) << e.path();
}

TEST_F(StateStoreTest, SurvivesReopen) {
  {
    StateStore s(dir_);
    s.put("roster", "alice");
  }
  StateStore s(dir_);
  EXPECT_EQ(s.get("roster"), "alice");
}

TEST_F(StateStoreTest, EveryTruncationIsDetected) {
  std::filesystem::path file;
  std::string full;
  {
    StateStore s(dir_);
    s.put("checkpoint.src", R"({"file":"/var/log/x","offset":123456,"inode":99})");
    file = s.file_for("checkpoint.src");
    full = read(file);
  }
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << full.substr(0, cut);
    StateStore s(dir_);
    EXPECT_THROW((void)s.get("checkpoint.src"), StateCorruptError) << "truncated at " << cut;
  }
}

TEST_F(StateStoreTest, BitFlipIsDetected) {
  std::filesystem::path file;
  {
    StateStore s(dir_);
    s.put("checkpoint.src", R"({"offset":123456})");
    file = s.file_for("checkpoint.src");
  }
  std::string content = read(file);
  content[content.size() - 3] ^= 0x01;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
  StateStore s(dir_);
  try {
    (void)s.get("checkpoint.src");
    FAIL() << "corruption not detected";
  } catch (const StateCorruptError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos);
  }
}

TEST_F(StateStoreTest, CrashBeforeRenameKeepsOldValue) {
  StateStore s(dir_);
  s.put("checkpoint.src", "old");
  // A crash after writing the temp file but before the rename leaves a stray temp file behind.
  auto tmp = s.file_for("checkpoint.src");
  tmp += ".tmp";
  std::ofstream(tmp, std::ios::binary) << "SIEMSTATE 1 3 0000";
  EXPECT_EQ(s.get("checkpoint.src"), "old");
  s.put("checkpoint.src", "new");
  EXPECT_EQ(s.get("checkpoint.src"), "new");
}

// A checkpoint is replaced whole or not at all: a write that fails half-way (here the file-size
// limit, EFBIG, as a full disk would) leaves the previous value readable, not a torn file.
TEST_F(StateStoreTest, WriteFailingHalfWayKeepsThePreviousValue) {
  StateStore s(dir_);
  s.put("checkpoint.src", "old");
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
  rlimit small = before;
  small.rlim_cur = 4096;
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_THROW(s.put("checkpoint.src", std::string(64 * 1024, 'x')), std::runtime_error);
  ::setrlimit(RLIMIT_FSIZE, &before);
  std::signal(SIGXFSZ, previous_handler);
  EXPECT_EQ(s.get("checkpoint.src"), "old");
}

TEST_F(StateStoreTest, StaleTempFilesAreRemovedOnOpen) {
  std::filesystem::path tmp;
  {
    StateStore s(dir_);
    s.put("checkpoint.src", "kept");
    tmp = s.file_for("checkpoint.src");
    tmp += ".tmp";
  }
  std::ofstream(tmp, std::ios::binary) << "SIEMSTATE 1 9 0000";  // a crash mid-write
  std::ofstream(dir_ / "unrelated.txt") << "x";
  StateStore s(dir_);
  EXPECT_FALSE(std::filesystem::exists(tmp));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "unrelated.txt"));
  EXPECT_EQ(s.get("checkpoint.src"), "kept");
}

TEST_F(StateStoreTest, ConcurrentPutsStayConsistent) {
  StateStore s(dir_);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&s, t] {
      for (int i = 0; i < 25; ++i) s.put("checkpoint.shared", std::string(100 + t * 10 + i, static_cast<char>('a' + t)));
    });
  }
  for (auto& th : threads) th.join();
  const auto v = s.get("checkpoint.shared");
  ASSERT_TRUE(v.has_value());
  ASSERT_FALSE(v->empty());
  EXPECT_EQ(v->find_first_not_of(v->front()), std::string::npos);
}

TEST_F(StateStoreTest, SecondProcessIsLockedOut) {
  StateStore s(dir_);
  // flock locks belong to the open file description: a second open in this process conflicts too.
  try {
    StateStore other(dir_);
    FAIL() << "second StateStore on the same dir was allowed";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another siem-connector process"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("held by pid " + std::to_string(::getpid())), std::string::npos) << e.what();
  }
}

TEST_F(StateStoreTest, LockIsHeldAcrossProcessesAndReleasedOnClose) {
  auto store = std::make_unique<StateStore>(dir_);
  store->put("checkpoint.src", "v1");
  // A child process (as a second connector would be) must be refused while we hold the lock.
  const auto child_can_open = [this] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      try {
        StateStore other(dir_);
        ::_exit(0);
      } catch (const std::runtime_error& e) {
        ::_exit(std::string(e.what()).find("in use by another siem-connector process") != std::string::npos ? 10 : 11);
      } catch (...) {
        ::_exit(12);
      }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(child_can_open(), 10);
  store.reset();
  EXPECT_EQ(child_can_open(), 0);
  StateStore again(dir_);
  EXPECT_EQ(again.get("checkpoint.src"), "v1");
}

TEST_F(StateStoreTest, TrailingGarbageAndBadHeadersAreCorrupt) {
  std::filesystem::path file;
  std::string full;
  {
    StateStore s(dir_);
    s.put("k", "payload");
    file = s.file_for("k");
    full = read(file);
  }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {full + "x", "torn write"},
      {"SIEMSTATE 2 7 00000000\npayload", "unsupported format version 2"},
      {"NOTSTATE 1 7 00000000\npayload", "bad magic"},
      {"SIEMSTATE 1 seven 00000000\npayload", "malformed header"},
      {"", "empty or truncated"},
  };
  for (const auto& [content, expected] : cases) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    StateStore s(dir_);
    try {
      (void)s.get("k");
      ADD_FAILURE() << "accepted: " << content;
    } catch (const StateCorruptError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
  }
}

TEST_F(StateStoreTest, EveryBitFlipIsDetected) {
  std::filesystem::path file;
  std::string full;
  {
    StateStore s(dir_);
    s.put("checkpoint.src", R"({"skiptoken":"abc","window_end":"2026-11-01T00:00:00Z"})");
    file = s.file_for("checkpoint.src");
    full = read(file);
  }
  StateStore s(dir_);
  for (std::size_t i = 0; i < full.size(); ++i) {
    std::string damaged = full;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x04);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << damaged;
    EXPECT_THROW((void)s.get("checkpoint.src"), StateCorruptError) << "flip at byte " << i;
  }
}

TEST_F(StateStoreTest, PutLeavesNoTemporaryFilesAndIsPrivate) {
  StateStore s(dir_);
  s.put("checkpoint.a", "1");
  s.put("checkpoint.a", "2");
  std::size_t state_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    EXPECT_NE(e.path().extension(), ".tmp") << e.path();
    if (e.path().extension() == ".state") {
      ++state_files;
      const auto perms = std::filesystem::status(e.path()).permissions();
      EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
                std::filesystem::perms::none);
    }
  }
  EXPECT_EQ(state_files, 1u);
}

TEST_F(StateStoreTest, UnusableDirectoryIsAClearError) {
  std::filesystem::create_directories(dir_);
  const auto blocker = dir_ / "not-a-dir";
  std::ofstream(blocker) << "x";
  try {
    StateStore s(blocker / "state");
    FAIL() << "a state_dir below a regular file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create state_dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace siem
