// `file:` secrets are regular files of at most 64 KiB; a secret file, or a config file holding a
// literal secret, that group or others can read draws a warning (never an error: it still works).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "connector/config/config_node.h"

namespace siem {
namespace {

namespace fs = std::filesystem;

class SecretFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("siem-secret-files-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& content, mode_t mode) {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
  // Loads `yaml` from a file of the given mode (as `validate` and `run` do) and reads secret `key`.
  std::string diagnostics_reading(const std::string& yaml, mode_t config_mode, const char* key,
                                  Secret* value = nullptr) {
    const auto config = write("config.yaml", yaml, config_mode);
    Diagnostics diags;
    auto doc = ConfigDocument::load_file(config, diags);
    const Secret s = doc->root().secret(key, true);
    if (value) *value = s;
    return diags.format();
  }
  fs::path dir_;
};

TEST_F(SecretFiles, PrivateSecretFileIsReadWithoutWarning) {
  write("token", "s3cr3t\n", 0600);
  Secret v;
  EXPECT_EQ(diagnostics_reading("token: file:token\n", 0644, "token", &v), "");
  EXPECT_EQ(v.reveal(), "s3cr3t");
}

TEST_F(SecretFiles, SecretFileOthersCanReadIsAWarning) {
  const auto token = write("token", "s3cr3t\n", 0644);
  Secret v;
  const auto text = diagnostics_reading("token: file:token\n", 0600, "token", &v);
  EXPECT_EQ(text, (dir_ / "config.yaml").string() + ":1:8: warning: token: secret file " + token.string() +
                      " is readable by group or others (mode 0644): chmod 600 " + token.string() + "\n");
  EXPECT_EQ(v.reveal(), "s3cr3t");
  write("token", "s3cr3t\n", 0640);
  EXPECT_NE(diagnostics_reading("token: file:token\n", 0600, "token").find("(mode 0640)"), std::string::npos);
}

TEST_F(SecretFiles, SecretFileOver64KiBIsAnErrorNamingIt) {
  const auto big = write("big", std::string(64 * 1024 + 1, 'x'), 0600);
  const auto text = diagnostics_reading("token: file:big\n", 0600, "token");
  EXPECT_EQ(text,
            (dir_ / "config.yaml").string() + ":1:8: error: token: secret file " + big.string() +
                " is larger than 64 KiB: a secret is a password, token or key, not a file that size (is the "
                "path right?)\n");
  write("big", std::string(64 * 1024, 'x'), 0600);  // exactly the cap is fine
  EXPECT_EQ(diagnostics_reading("token: file:big\n", 0600, "token"), "");
}

TEST_F(SecretFiles, SecretFileMustBeARegularFile) {
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);  // would block a plain read forever
  EXPECT_NE(diagnostics_reading("token: file:fifo\n", 0600, "token").find("is not a regular file"),
            std::string::npos);
  fs::create_directory(dir_ / "d");
  EXPECT_NE(diagnostics_reading("token: file:d\n", 0600, "token").find("is not a regular file"),
            std::string::npos);
}

TEST_F(SecretFiles, LiteralSecretInAConfigOthersCanReadIsAWarning) {
  const auto config = (dir_ / "config.yaml").string();
  Diagnostics diags;
  write("config.yaml", "token: hunter2\n", 0644);
  auto doc = ConfigDocument::load_file(dir_ / "config.yaml", diags);
  EXPECT_EQ(doc->root().secret("token").reveal(), "hunter2");
  EXPECT_EQ(diags.format(),
            config + ":1:8: warning: token: a literal secret in " + config +
                ", which group or others can read (mode 0644): use ${ENV_VAR} or file:/path for it, "
                "or chmod 600 " +
                config + "\n");
  EXPECT_EQ(diags.format().find("hunter2"), std::string::npos);
  // Group-readable is enough.
  EXPECT_NE(diagnostics_reading("token: hunter2\n", 0640, "token").find("can read (mode 0640)"),
            std::string::npos);
  // The same config private to its owner, or a secret from the environment: nothing to say.
  EXPECT_EQ(diagnostics_reading("token: hunter2\n", 0600, "token"), "");
  ::setenv("SIEM_TEST_LITERAL_SECRET", "x", 1);
  EXPECT_EQ(diagnostics_reading("token: ${SIEM_TEST_LITERAL_SECRET}\n", 0644, "token"), "");
}

}  // namespace
}  // namespace siem
