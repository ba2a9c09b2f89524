// A fixture with the Graph/ARM emulator over HTTPS on 127.0.0.1 (a test CA made once per suite),
// one app registration with a client secret and one subscription. The server is stopped before
// the emulator is destroyed (its request log hook writes into the emulator after each response).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/loopback_server.h"
#include "tools/emulator/emulator.h"

namespace siem::test {

class EmulatorOverTls : public ::testing::Test {
 protected:
  static constexpr const char* kTenant = "11111111-1111-1111-1111-111111111111";
  static constexpr const char* kClient = "22222222-2222-2222-2222-222222222222";
  static constexpr const char* kSecret = "s3cret";
  static constexpr const char* kSub = "33333333-3333-3333-3333-333333333333";

  static void SetUpTestSuite() { pki_ = new TestPki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    emulator::AppRegistration app;
    app.tenant_id = kTenant;
    app.client_id = kClient;
    app.client_secret = kSecret;
    emulator::Options o;
    o.apps = {app};
    o.subscriptions = {kSub};
    server_ = make_tls_server(*pki_);
    emu_ = std::make_unique<emulator::Emulator>(o, *server_);
    server_->start();
    base_ = server_->base_url();
  }
  void TearDown() override { server_.reset(); }

  static inline TestPki* pki_ = nullptr;
  std::unique_ptr<LoopbackServer> server_;
  std::unique_ptr<emulator::Emulator> emu_;
  std::string base_;
};

}  // namespace siem::test
