// Operator files (configuration, mapping files, the role table) are read whole but bounded: a file
// over 4 MiB is refused with its path; a FIFO or a device is refused at once (never waited on),
// except the configuration itself, which may be a stream (`-c <(...)`) read up to the bound; a
// link (how Kubernetes projects ConfigMaps) is followed.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <csignal>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <filesystem>
#include <fstream>

#include "connector/config/bounded_read.h"
#include "connector/config/config_node.h"
#include "connector/config/yaml_tree.h"

namespace siem {
namespace {

namespace fs = std::filesystem;

class BoundedRead : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("siem-bounded-read-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& content) {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string config_diagnostics(const fs::path& p) {
    Diagnostics diags;
    auto doc = ConfigDocument::load_file(p, diags);
    return diags.format();
  }
  fs::path dir_;
};

TEST_F(BoundedRead, ReadsARegularFileWholeUpToTheBound) {
  const auto p = write("a", std::string(5000, 'x'));
  auto r = read_regular_file(p, 5000);
  EXPECT_EQ(r.status, ReadFileStatus::ok);
  EXPECT_EQ(r.text, std::string(5000, 'x'));
  r = read_regular_file(p, 4999);
  EXPECT_EQ(r.status, ReadFileStatus::too_large);
  EXPECT_TRUE(r.text.empty());
  EXPECT_EQ(describe_read_failure(p, r, 4096), p.string() + " is larger than 4 KiB");
  EXPECT_EQ(describe_read_reason(r, 4096), "it is larger than 4 KiB");
  EXPECT_EQ(read_regular_file(write("empty", ""), 10).status, ReadFileStatus::ok);
  EXPECT_EQ(read_regular_file(dir_ / "missing", 10).status, ReadFileStatus::cannot_open);
}

TEST_F(BoundedRead, ADeviceIsRefusedOrReadOnlyUpToTheBound) {
  // /dev/zero never ends: read whole, it would take all memory.
  const auto r = read_regular_file("/dev/zero", kMaxConfigFileBytes);
  EXPECT_EQ(r.status, ReadFileStatus::not_regular);
  // The configuration may be a stream (`-c <(...)`): read, but only up to the bound.
  EXPECT_EQ(read_regular_file("/dev/zero", 1 << 20, FileKinds::streams_too).status, ReadFileStatus::too_large);
  const auto d = config_diagnostics("/dev/zero");
  EXPECT_NE(d.find("/dev/zero: error: cannot read the configuration file: it is larger than 4096 KiB"), std::string::npos) << d;
  EXPECT_EQ(d.find("/dev/zero", 1), std::string::npos) << "the path is said once: " << d;
}

TEST_F(BoundedRead, AFifoIsRefusedWithoutWaitingForAWriterUnlessAStreamIsWelcome) {
  const auto fifo = dir_ / "config.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(read_regular_file(fifo, 1024).status, ReadFileStatus::not_regular);  // returns at once

  // `run -c <(envsubst <template.yaml)`: the configuration is read from the FIFO.
  ::signal(SIGPIPE, SIG_IGN);  // a reader that refused the FIFO fails the test, not the process
  std::thread writer([&] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int fd = -1;
    while (fd < 0 && std::chrono::steady_clock::now() < until) {
      fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // ENXIO until the reader opened
      if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (fd < 0) return;
    ::fcntl(fd, F_SETFL, 0);
    const std::string text = "state_dir: /tmp/from-a-fifo\n";
    (void)!::write(fd, text.data(), text.size());
    ::close(fd);
  });
  Diagnostics diags;
  auto doc = ConfigDocument::load_file(fifo, diags);
  writer.join();
  EXPECT_FALSE(diags.has_errors()) << diags.format();
  EXPECT_EQ(doc->root().string("state_dir"), "/tmp/from-a-fifo");
}

TEST_F(BoundedRead, AnOversizedConfigurationFileIsRefusedByName) {
  const auto p = write("config.yaml", "# " + std::string(kMaxConfigFileBytes, 'x') + "\nsources: []\n");
  const auto d = config_diagnostics(p);
  EXPECT_NE(d.find(p.string() + ": error: cannot read the configuration file: it is larger than 4096 KiB"),
            std::string::npos)
      << d.substr(0, 300);
  EXPECT_EQ(d.find(p.string()), d.rfind(p.string())) << "the path is said once: " << d.substr(0, 300);
}

TEST_F(BoundedRead, ALinkedConfigurationIsFollowed) {
  // A Kubernetes ConfigMap volume: config.yaml -> ..data/config.yaml.
  fs::create_directories(dir_ / "..data");
  write("..data/config.yaml", "state_dir: /tmp/x\n");
  fs::create_symlink("..data/config.yaml", dir_ / "config.yaml");
  Diagnostics diags;
  auto doc = ConfigDocument::load_file(dir_ / "config.yaml", diags);
  EXPECT_FALSE(diags.has_errors()) << diags.format();
  EXPECT_EQ(doc->root().string("state_dir"), "/tmp/x");
}

TEST_F(BoundedRead, MappingAndRoleFilesAreBoundedToo) {
  const auto big = write("big.yaml", "# " + std::string(kMaxConfigFileBytes, 'x') + "\n");
  try {
    yaml::load_file(big.string());
    FAIL() << "an oversized file was loaded";
  } catch (const yaml::FileError& e) {
    EXPECT_EQ(e.reason, big.string() + " is larger than 4096 KiB");
  }
  EXPECT_THROW(yaml::load_file("/dev/zero"), YAML::BadFile);
  EXPECT_EQ(yaml::load_file(write("ok.yaml", "a: 1\n").string())["a"].Scalar(), "1");
}

}  // namespace
}  // namespace siem
