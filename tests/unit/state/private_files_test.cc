// Files at rest: state_dir, LOCK, state and temporary files, the dead-letter file and file-sink
// outputs are never opened through a symbolic link (the link's target stays untouched), and what
// the connector creates is private. A state_dir that others can reach is refused.
#include "connector/state/private_files.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "connector/core/dead_letter.h"
#include "connector/state/state_store.h"
#include "sinks/file/file_sink.h"

namespace siem {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// Runs `f` expecting a std::runtime_error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, std::initializer_list<std::string_view> parts) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    for (auto part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

class PrivateFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(022);  // the common default: what the connector creates must not depend on it
    base_ = fs::temp_directory_path() / ("siem-private-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
    state_ = base_ / "state";
    victim_ = base_ / "victim.txt";
    std::ofstream(victim_) << "precious\n";
  }
  void TearDown() override {
    ::umask(old_umask_);
    fs::remove_all(base_);
  }
  // Creates state_dir the way the connector would, then closes the store again.
  void make_state_dir() { StateStore s(state_); }
  void expect_victim_untouched() { EXPECT_EQ(slurp(victim_), "precious\n"); }

  mode_t old_umask_ = 022;
  fs::path base_, state_, victim_;
};

// ------------------------------------------------------------------ state_dir

TEST_F(PrivateFiles, StateDirIsCreated0700WithLockAndStateFiles0600) {
  StateStore s(base_ / "a" / "b" / "state");
  s.put("checkpoint.x", "1");
  EXPECT_EQ(mode_of(base_ / "a" / "b" / "state"), 0700u);
  EXPECT_EQ(mode_of(base_ / "a" / "b" / "state" / "LOCK"), 0600u);
  EXPECT_EQ(mode_of(s.file_for("checkpoint.x")), 0600u);
}

TEST_F(PrivateFiles, StateDirReadableByOthersIsRefused) {
  fs::create_directory(state_);
  ::chmod(state_.c_str(), 0755);
  expect_error([&] { StateStore s(state_); }, {"state_dir", state_.string(), "mode 0755", "chmod 700"});
  EXPECT_FALSE(fs::exists(state_ / "LOCK"));
}

TEST_F(PrivateFiles, GroupOrWorldWritableStateDirIsRefused) {
  fs::create_directory(state_);
  for (mode_t mode : {0770u, 0707u, 0720u, 0777u}) {
    ::chmod(state_.c_str(), mode);
    expect_error([&] { StateStore s(state_); },
                 {"state_dir", state_.string(), "writable by group or others", files::format_mode(mode)});
  }
}

TEST_F(PrivateFiles, ForeignOwnedStateDirIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another user";
  fs::create_directory(state_);
  ::chmod(state_.c_str(), 0700);
  ASSERT_EQ(::chown(state_.c_str(), 65534, 65534), 0);
  expect_error([&] { StateStore s(state_); }, {"state_dir", state_.string(), "owned by uid 65534", "uid 0"});
}

TEST_F(PrivateFiles, OlderLockFileIsMadePrivate) {
  make_state_dir();
  ::chmod((state_ / "LOCK").c_str(), 0644);
  StateStore s(state_);
  EXPECT_EQ(mode_of(state_ / "LOCK"), 0600u);
}

// ------------------------------------------------------------------ links inside state_dir

TEST_F(PrivateFiles, SymlinkedLockIsRefusedAndItsTargetUntouched) {
  make_state_dir();
  fs::remove(state_ / "LOCK");
  fs::create_symlink(victim_, state_ / "LOCK");
  expect_error([&] { StateStore s(state_); }, {"LOCK", "symbolic link"});
  expect_victim_untouched();
}

TEST_F(PrivateFiles, SymlinkedTemporaryFileIsNeverWrittenThrough) {
  StateStore s(state_);
  // The name a predictable temporary file would have: a local user could plant it.
  auto planted = s.file_for("checkpoint.src");
  planted += ".tmp";
  fs::create_symlink(victim_, planted);
  s.put("checkpoint.src", "value");
  EXPECT_EQ(s.get("checkpoint.src"), "value");
  expect_victim_untouched();
}

TEST_F(PrivateFiles, StaleTemporaryLinksAreRemovedWithoutTouchingTheirTargets) {
  make_state_dir();
  const auto link = state_ / "checkpoint.src.0123456789abcdef.state.tmp";
  fs::create_symlink(victim_, link);
  StateStore s(state_);
  EXPECT_FALSE(fs::is_symlink(link));
  expect_victim_untouched();
}

TEST_F(PrivateFiles, SymlinkedStateFileIsReportedAndReplacedNotFollowed) {
  StateStore s(state_);
  fs::create_symlink(victim_, s.file_for("checkpoint.src"));
  EXPECT_THROW((void)s.get("checkpoint.src"), StateCorruptError);
  s.put("checkpoint.src", "fresh");  // rename replaces the link itself
  EXPECT_FALSE(fs::is_symlink(s.file_for("checkpoint.src")));
  EXPECT_EQ(s.get("checkpoint.src"), "fresh");
  expect_victim_untouched();
}

// ------------------------------------------------------------------ dead-letter file

TEST_F(PrivateFiles, DeadLetterFileIsCreated0600) {
  DeadLetterWriter w(state_ / "dead-letter.ndjson");
  w.write(DeadLetter{"read", "src", "in:1", "invalid JSON", "{"});
  EXPECT_EQ(mode_of(state_ / "dead-letter.ndjson"), 0600u);
  EXPECT_NE(slurp(state_ / "dead-letter.ndjson").find("invalid JSON"), std::string::npos);
}

TEST_F(PrivateFiles, SymlinkedDeadLetterFileIsRefusedAndItsTargetUntouched) {
  fs::create_symlink(victim_, base_ / "dead-letter.ndjson");
  DeadLetterWriter w(base_ / "dead-letter.ndjson");
  expect_error(
      [&] {
        w.write(DeadLetter{"read", "src", "in:1", "invalid JSON", "{"});
      },
      {"dead-letter file", "symbolic link"});
  expect_victim_untouched();
}

// A process killed in the middle of a write() leaves the file's last line cut short (the kernel
// stops copying at the pending SIGKILL). The next start must not glue its first line onto that
// fragment: the line it writes would be one no reader can parse, and it counts as delivered.
TEST_F(PrivateFiles, DeadLetterAfterALineCutShortStartsOnALineOfItsOwn) {
  const auto path = state_ / "dead-letter.ndjson";
  make_state_dir();
  std::ofstream(path, std::ios::binary) << "{\"time\":\"2026-03-04T10:15:30Z\",\"stage\":\"re";  // the torn tail
  ::chmod(path.c_str(), 0600);
  DeadLetterWriter w(path);
  w.write(DeadLetter{"read", "src", "in:1", "invalid JSON", "{"});
  std::istringstream lines(slurp(path));
  std::string torn, line;
  ASSERT_TRUE(std::getline(lines, torn));
  EXPECT_EQ(torn, "{\"time\":\"2026-03-04T10:15:30Z\",\"stage\":\"re");
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_EQ(line.rfind("{\"origin\":\"in:1\",", 0), 0u) << line;  // the whole letter, on its own line
  EXPECT_EQ(line.back(), '}') << line;
  EXPECT_FALSE(std::getline(lines, line));
}

// ------------------------------------------------------------------ file sink

TEST_F(PrivateFiles, FileSinkOutputIsCreated0600OrWithItsConfiguredMode) {
  FileSink default_mode("out", base_ / "out" / "a.ndjson", false);
  default_mode.start();
  EXPECT_EQ(mode_of(base_ / "out" / "a.ndjson"), 0600u);
  ::umask(077);  // a configured mode is applied as written, whatever the umask
  FileSink shipper("out", base_ / "out" / "b.ndjson", false, 0640);
  shipper.start();
  EXPECT_EQ(mode_of(base_ / "out" / "b.ndjson"), 0640u);
}

TEST_F(PrivateFiles, FileSinkOutputAfterALineCutShortStartsOnALineOfItsOwn) {
  const auto path = base_ / "out.ndjson";
  std::ofstream(path, std::ios::binary) << "{\"id\":\"a\"}\n{\"id\":\"b";  // one line, then a torn tail
  ::chmod(path.c_str(), 0600);
  FileSink sink("out", path, false);
  sink.start();
  auto ev = std::make_shared<MappedEvent>();
  ev->ecs = R"({"id":"c"})";  // the default format
  ASSERT_EQ(sink.send(std::vector<EventPtr>{ev}).status, SendStatus::ok);
  EXPECT_EQ(slurp(path), "{\"id\":\"a\"}\n{\"id\":\"b\n{\"id\":\"c\"}\n");
  // A file that ends with its newline is left as it is.
  FileSink again("out", path, false);
  again.start();
  ASSERT_EQ(again.send(std::vector<EventPtr>{ev}).status, SendStatus::ok);
  EXPECT_EQ(slurp(path), "{\"id\":\"a\"}\n{\"id\":\"b\n{\"id\":\"c\"}\n{\"id\":\"c\"}\n");
}

// A write that fails part way through a batch (here the file size limit; a full disk alike) leaves
// a line cut short in the open file: the retry ends it first, so the events written again start
// on lines of their own.
TEST_F(PrivateFiles, FileSinkRetryAfterAWriteFailedPartWayStartsOnALineOfItsOwn) {
  const auto path = base_ / "out.ndjson";
  FileSink sink("out", path, false);
  sink.start();
  std::vector<EventPtr> batch;
  for (int i = 0; i < 4; ++i) {
    auto ev = std::make_shared<MappedEvent>();
    ev->ecs = fmt::format(R"({{"id":"{}","pad":"{}"}})", i, std::string(40, 'x'));
    batch.push_back(ev);
  }
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
  const auto previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = before;
  small.rlim_cur = 100;  // the second line is cut at byte 100
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const auto failed = sink.send(batch).status;
  ::setrlimit(RLIMIT_FSIZE, &before);
  std::signal(SIGXFSZ, previous);
  ASSERT_EQ(failed, SendStatus::retry);
  ASSERT_EQ(sink.send(batch).status, SendStatus::ok);
  std::istringstream lines(slurp(path));
  std::vector<std::string> got;
  for (std::string line; std::getline(lines, line);) got.push_back(line);
  ASSERT_EQ(got.size(), 6u) << slurp(path);  // 1 whole and 1 cut short, then the batch again
  EXPECT_EQ(got[0], batch[0]->ecs);
  EXPECT_EQ(got[1].size(), 100 - got[0].size() - 1) << got[1];
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(got[2 + i], batch[i]->ecs);
}

TEST_F(PrivateFiles, SymlinkedFileSinkOutputIsRefusedAndItsTargetUntouched) {
  fs::create_symlink(victim_, base_ / "out.ndjson");
  FileSink sink("out", base_ / "out.ndjson", false);
  expect_error([&] { sink.start(); }, {"file sink output", "symbolic link"});
  expect_victim_untouched();
}

TEST_F(PrivateFiles, LinkPutInPlaceOfARotatedOutputIsNotFollowed) {
  FileSink sink("out", base_ / "out.ndjson", false);
  sink.start();
  fs::rename(base_ / "out.ndjson", base_ / "out.ndjson.1");  // logrotate moves it away
  fs::create_symlink(victim_, base_ / "out.ndjson");         // someone plants a link
  const auto result = sink.send({});
  EXPECT_EQ(result.status, SendStatus::retry);
  EXPECT_NE(result.error.find("symbolic link"), std::string::npos) << result.error;
  expect_victim_untouched();
}

TEST_F(PrivateFiles, FifoAtTheOutputPathIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((base_ / "out.ndjson").c_str(), 0600), 0);
  FileSink sink("out", base_ / "out.ndjson", false);
  expect_error([&] { sink.start(); }, {"not a regular file"});
}

// ------------------------------------------------------------------ modes in configs

TEST(FileMode, ParsesOctalModesAndRejectsTheRest) {
  EXPECT_EQ(files::parse_file_mode("0600"), 0600u);
  EXPECT_EQ(files::parse_file_mode("640"), 0640u);
  EXPECT_EQ(files::parse_file_mode("0o640"), 0640u);
  for (const char* bad : {"", "x", "0800", "4755", "01777", "-600", "0600 ", "rw-------", "00600", "0o"}) {
    EXPECT_FALSE(files::parse_file_mode(bad).has_value()) << bad;
  }
  EXPECT_EQ(files::format_mode(0640), "0640");
}

TEST(RandomSuffix, IsSixteenHexDigitsAndDiffers) {
  const auto a = files::random_suffix(), b = files::random_suffix();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace siem
