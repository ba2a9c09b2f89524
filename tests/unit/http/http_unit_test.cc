#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "connector/http/http_client.h"
#include "connector/http/retry_policy.h"
#include "connector/http/token_bucket.h"

using namespace siem::http;
using namespace std::chrono_literals;

TEST(Url, ParsesSchemesPortsTargetsAndIpLiterals) {
  Url u = parse_url("HTTPS://Login.Example.COM/tenant/oauth2?x=1#frag");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "login.example.com");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.target, "/tenant/oauth2?x=1");
  EXPECT_FALSE(u.is_ip);
  EXPECT_EQ(u.authority(), "login.example.com");

  Url v = parse_url("http://127.0.0.1:8088");
  EXPECT_EQ(v.port, 8088);
  EXPECT_EQ(v.target, "/");
  EXPECT_TRUE(v.is_ip);
  EXPECT_EQ(v.authority(), "127.0.0.1:8088");

  Url w = parse_url("https://[::1]:8443/a");
  EXPECT_EQ(w.host, "::1");
  EXPECT_TRUE(w.is_ip);
  EXPECT_EQ(w.authority(), "[::1]:8443");

  EXPECT_EQ(parse_url("http://host?q").target, "/?q");
  EXPECT_EQ(parse_url("https://graph.microsoft.com:8443/v1.0").origin(), "https://graph.microsoft.com:8443");
  EXPECT_EQ(parse_url("https://graph.microsoft.com/v1.0").origin(), "https://graph.microsoft.com:443");
  EXPECT_EQ(parse_url("https://[::1]/a").origin(), "https://[::1]:443");
}

TEST(Url, RejectsControlBytesSpacesDelNonAsciiAndUserinfo) {
  for (const std::string& bad : {std::string("https://h/a\r\nX-Injected: 1"), std::string("https://h/a b"),
                                 std::string("https://h/a\tb"), std::string("https://h/a\0b", 13), std::string("https://h/a\x7f"),
                                 std::string("https://h/caf\xc3\xa9"), std::string("https://h\n.example/"),
                                 std::string("https://graph.microsoft.com@evil.example/v1.0"),
                                 std::string("https://user:pw@graph.microsoft.com/"), std::string("https://h/%zz"),
                                 std::string("https://h/%4"), std::string("https://ho$t/"), std::string("https://[nothex]/"),
                                 std::string("https://h:/")}) {
    try {
      parse_url(bad);
      ADD_FAILURE() << printable(bad);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::url) << printable(bad);
      const std::string msg = e.what();
      EXPECT_EQ(msg.find_first_of(std::string("\r\n\0\x7f", 4)), std::string::npos) << "raw control byte in: " << printable(msg);
    }
  }
  try {
    parse_url("https://graph.microsoft.com@evil.example/");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("userinfo"), std::string::npos) << e.what();
  }
}

TEST(Url, PercentEncodesPrintablesOutsideRfc3986AndKeepsValidEscapes) {
  EXPECT_EQ(parse_url("https://h/a|b?x={y}&z=%20\"q\"").target, "/a%7Cb?x=%7By%7D&z=%20%22q%22");
  EXPECT_EQ(parse_url("https://h/v1.0/x?$filter=a%20ge%202024-01-01T00:00:00Z&$top=5").target,
            "/v1.0/x?$filter=a%20ge%202024-01-01T00:00:00Z&$top=5");
}

TEST(Url, PrintableEscapesAndCuts) {
  EXPECT_EQ(printable("a\r\nb\x7f\xc3"), "a\\x0d\\x0ab\\x7f\\xc3");
  EXPECT_EQ(printable(std::string(300, 'a'), 10), "aaaaaaaaaa...");
}

TEST(Origin, SameSchemeHostAndPortOnly) {
  const Url root = parse_url("https://graph.microsoft.com");
  EXPECT_NO_THROW(check_same_origin(parse_url("https://GRAPH.microsoft.com:443/v1.0/x?$skiptoken=1"), root));
  for (const char* other : {"https://evil.example/v1.0/x", "https://graph.microsoft.com:8443/v1.0/x",
                            "http://graph.microsoft.com/v1.0/x", "https://graph.microsoft.com.evil.example/x"}) {
    try {
      check_same_origin(parse_url(other), root);
      ADD_FAILURE() << other;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::origin);
      EXPECT_FALSE(e.transient());
      const std::string msg = e.what();
      EXPECT_NE(msg.find(parse_url(other).origin()), std::string::npos) << msg;
      EXPECT_NE(msg.find("https://graph.microsoft.com:443"), std::string::npos) << msg;
      EXPECT_EQ(msg.find("/v1.0"), std::string::npos) << "the path is not named: " << msg;
    }
  }
}

TEST(Header, RefusesCrLfNulAndBadNamesWithoutShowingTheValue) {
  EXPECT_NO_THROW(check_header("Authorization", "Bearer abc.def"));
  EXPECT_NO_THROW(check_header("X-IDENTITY-HEADER", "tab\tis-fine"));
  for (const std::string& v : {std::string("Bearer s3cret\r\nX-Injected: 1"), std::string("s3cret\n"),
                               std::string("s3cret\0x", 8), std::string("\rs3cret")}) {
    try {
      check_header("Authorization", v);
      ADD_FAILURE() << printable(v);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::header);
      EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("Authorization"), std::string::npos) << e.what();
    }
  }
  for (const char* name : {"", "Bad Name", "Bad:Name", "X\r\nY"}) EXPECT_THROW(check_header(name, "v"), Error) << printable(name);
}

TEST(Header, ClientRefusesAnInjectedHeaderBeforeConnecting) {
  ClientOptions o;
  o.use_env_proxy = false;
  Client client(o);
  Request r;
  r.url = "http://127.0.0.1:9/never";  // discard port: nothing is listening, nothing may be sent
  r.headers = {{"Authorization", "Bearer t\r\nX-Injected: 1"}};
  try {
    client.send(r);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::header) << e.what();
  }
  EXPECT_EQ(client.stats().connections_opened, 0u);
}

TEST(Origin, ClientRefusesAUrlOutsideItsPinBeforeConnecting) {
  ClientOptions o;
  o.use_env_proxy = false;
  Client client(o);
  Request r;
  r.url = "http://127.0.0.2:9/next";
  r.pin = "http://127.0.0.1:9";
  try {
    client.send(r);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::origin) << e.what();
  }
  EXPECT_EQ(client.stats().connections_opened, 0u);
}

TEST(Host, LoopbackAndLinkLocal) {
  for (const char* h : {"localhost", "a.localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"})
    EXPECT_TRUE(is_loopback_host(h)) << h;
  for (const char* h : {"localhost.example", "128.0.0.1", "10.0.0.1", "::2", "graph.microsoft.com"}) EXPECT_FALSE(is_loopback_host(h)) << h;
  for (const char* h : {"169.254.169.254", "169.254.0.1", "fe80::1", "::ffff:169.254.169.254"}) EXPECT_TRUE(is_link_local_host(h)) << h;
  for (const char* h : {"169.253.1.1", "10.0.0.1", "fec0::1", "example.com"}) EXPECT_FALSE(is_link_local_host(h)) << h;
}

TEST(Url, RejectsMalformedWithUrlError) {
  for (const char* bad : {"ftp://x", "example.com/path", "https://", "https://host:99999", "https://host:abc",
                          "https://[::1", "https://host:0"}) {
    try {
      parse_url(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::url) << bad;
      EXPECT_FALSE(e.transient());
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos);
    }
  }
}

TEST(NoProxy, MatchesHostsSuffixesWildcardAndPorts) {
  EXPECT_TRUE(no_proxy_matches("anything.example", 443, "*"));
  EXPECT_TRUE(no_proxy_matches("example.com", 443, "example.com"));
  EXPECT_TRUE(no_proxy_matches("a.example.com", 443, "example.com"));
  EXPECT_TRUE(no_proxy_matches("a.example.com", 443, ".example.com"));
  EXPECT_TRUE(no_proxy_matches("example.com", 443, ".example.com"));
  EXPECT_TRUE(no_proxy_matches("A.Example.com", 443, "*.example.com"));
  EXPECT_FALSE(no_proxy_matches("badexample.com", 443, "example.com"));
  EXPECT_FALSE(no_proxy_matches("example.org", 443, "example.com, .foo"));
  EXPECT_TRUE(no_proxy_matches("internal", 443, "foo, internal ,bar"));
  EXPECT_TRUE(no_proxy_matches("splunk", 8088, "splunk:8088"));
  EXPECT_FALSE(no_proxy_matches("splunk", 443, "splunk:8088"));
  EXPECT_TRUE(no_proxy_matches("10.1.2.3", 443, "10.1.2.3"));
  EXPECT_TRUE(no_proxy_matches("::1", 443, "[::1]"));
  EXPECT_FALSE(no_proxy_matches("host", 443, ""));
}

TEST(NoProxy, SelectProxyHonoursConfigEnvAndNeverImds) {
  ClientOptions o;
  o.proxy = "http://proxy:3128";
  EXPECT_EQ(select_proxy(parse_url("https://graph.microsoft.com/v1.0"), o), "http://proxy:3128");
  EXPECT_EQ(select_proxy(parse_url("http://169.254.169.254/metadata"), o), "");
  // Proxy credentials are not supported: dropped, so they are neither sent nor logged.
  o.proxy = "http://user:pa55@proxy:3128";
  EXPECT_EQ(select_proxy(parse_url("https://graph.microsoft.com/v1.0"), o), "http://proxy:3128");
  o.proxy = "http://proxy:3128";
  // Loopback and link-local destinations never go through a proxy, whatever configured it.
  EXPECT_EQ(select_proxy(parse_url("http://127.0.0.1:41234/msi/token"), o), "");
  EXPECT_EQ(select_proxy(parse_url("https://localhost:8088/"), o), "");
  EXPECT_EQ(select_proxy(parse_url("http://[fe80::1]/"), o), "");
  EXPECT_EQ(select_proxy(parse_url("http://169.254.1.2/"), o), "");
  o.no_proxy = ".microsoft.com";
  EXPECT_EQ(select_proxy(parse_url("https://graph.microsoft.com/v1.0"), o), "");

  ClientOptions e;
  ::setenv("HTTPS_PROXY", "http://envproxy:8080", 1);
  ::setenv("NO_PROXY", "corp.example", 1);
  EXPECT_EQ(select_proxy(parse_url("https://login.microsoftonline.com/x"), e), "http://envproxy:8080");
  EXPECT_EQ(select_proxy(parse_url("https://hec.corp.example/x"), e), "");
  EXPECT_EQ(select_proxy(parse_url("https://127.0.0.1:8088/"), e), "");  // loopback stays direct
  e.use_env_proxy = false;
  EXPECT_EQ(select_proxy(parse_url("https://login.microsoftonline.com/x"), e), "");
  ::unsetenv("HTTPS_PROXY");
  ::unsetenv("NO_PROXY");
}

TEST(RetryAfter, ParsesSecondsFractionsAndHttpDates) {
  auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(parse_retry_after("120", now), 120'000ms);
  EXPECT_EQ(parse_retry_after(" 2.128 ", now), 2'128ms);
  EXPECT_EQ(parse_retry_after("0", now), 0ms);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), 30'000ms);
  EXPECT_EQ(parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now), 60'000ms);
  EXPECT_EQ(parse_retry_after("Wed Oct 21 07:28:10 2015", now), 10'000ms);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), 0ms);  // in the past
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("12abc", now));
}

TEST(RetryPolicy, ClassifiesStatusesAndErrors) {
  for (int s : {429, 500, 502, 503, 504}) EXPECT_EQ(classify_status(s), RetryDecision::retry) << s;
  for (int s : {400, 403, 404, 409, 413, 501}) EXPECT_EQ(classify_status(s), RetryDecision::fail) << s;
  EXPECT_EQ(classify_status(401), RetryDecision::reauth);
  EXPECT_EQ(classify_status(200), RetryDecision::done);
  EXPECT_EQ(classify_error(Error(Error::Kind::timeout, "t")), RetryDecision::retry);
  EXPECT_EQ(classify_error(Error(Error::Kind::connect, "c")), RetryDecision::retry);
  EXPECT_EQ(classify_error(Error(Error::Kind::tls_verify, "v")), RetryDecision::fail);
}

TEST(RetryPolicy, BackoffIsFullJitterWithinExponentialBoundsAndCap) {
  RetryPolicy p({.base = 100ms, .cap = 1'000ms}, 42);
  for (int n = 0; n < 10; ++n) {
    auto ceiling = std::min<std::int64_t>(1000, 100LL << n);
    std::int64_t max_seen = 0;
    for (int i = 0; i < 200; ++i) {
      auto d = p.backoff(n).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling);
      max_seen = std::max(max_seen, d);
    }
    EXPECT_GT(max_seen, ceiling / 2) << "jitter should spread over the whole range";
  }
}

TEST(RetryPolicy, HonoursRetryAfterOn429And503AndReauthsOnce) {
  RetryPolicy p({.base = 100ms, .cap = 1'000ms}, 1);
  Response r429;
  r429.status = 429;
  r429.headers = {{"retry-after", "2.128"}};
  auto o = p.on_response(r429);
  EXPECT_EQ(o.decision, RetryDecision::retry);
  EXPECT_TRUE(o.from_retry_after);
  EXPECT_EQ(o.delay, 2'128ms);

  Response r503;
  r503.status = 503;
  r503.headers = {{"Retry-After", "3"}};
  o = p.on_response(r503);
  EXPECT_EQ(o.decision, RetryDecision::retry);
  EXPECT_TRUE(o.from_retry_after);
  EXPECT_EQ(o.delay, 3'000ms);

  r503.headers.clear();  // without the header: jittered backoff
  o = p.on_response(r503);
  EXPECT_EQ(o.decision, RetryDecision::retry);
  EXPECT_FALSE(o.from_retry_after);
  EXPECT_LE(o.delay, 1'000ms);

  // A Retry-After beyond max_retry_after is clamped to it.
  RetryPolicy clamped({.base = 100ms, .cap = 1'000ms, .max_retry_after = 60'000ms}, 1);
  Response r429_day;
  r429_day.status = 429;
  r429_day.headers = {{"Retry-After", "86400"}};
  EXPECT_EQ(clamped.on_response(r429_day).delay, 60'000ms);

  Response r401;
  r401.status = 401;
  EXPECT_EQ(p.on_response(r401).decision, RetryDecision::reauth);
  EXPECT_EQ(p.on_response(r401).decision, RetryDecision::fail);

  Response r404;
  r404.status = 404;
  EXPECT_EQ(p.on_response(r404).decision, RetryDecision::fail);

  RetryPolicy limited({.base = 1ms, .cap = 2ms, .max_attempts = 2}, 1);
  EXPECT_EQ(limited.on_response(r503).decision, RetryDecision::retry);
  EXPECT_EQ(limited.on_response(r503).decision, RetryDecision::fail);
}

TEST(TokenBucket, NeverGrantsMoreThanCapacityInAnyWindow) {
  auto clock = std::make_shared<ManualClock>();
  TokenBucket bucket(RateLimit::graph_reports(), clock);
  std::vector<Clock::time_point> grants;
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(bucket.acquire());
    grants.push_back(clock->now());
    clock->advance(std::chrono::milliseconds(137 * (i % 7)));  // irregular callers
  }
  // Sliding check: any 5+1 consecutive grants span at least one full window.
  for (std::size_t i = 5; i < grants.size(); ++i)
    EXPECT_GE(grants[i] - grants[i - 5], std::chrono::seconds(10)) << "grant " << i;
  // The first five were immediate (the bucket starts full).
  EXPECT_EQ(grants[4] - grants[0], std::chrono::milliseconds(137 * (0 + 1 + 2 + 3)));
}

TEST(TokenBucket, TryAcquirePauseAndAvailable) {
  auto clock = std::make_shared<ManualClock>();
  TokenBucket bucket({2, 1s}, clock);
  EXPECT_EQ(bucket.available(), 2);
  EXPECT_TRUE(bucket.try_acquire());
  EXPECT_TRUE(bucket.try_acquire());
  EXPECT_FALSE(bucket.try_acquire());
  clock->advance(1s);
  EXPECT_EQ(bucket.available(), 2);
  bucket.pause_for(5s);
  EXPECT_FALSE(bucket.try_acquire());
  EXPECT_EQ(bucket.available(), 0);
  clock->advance(5s);
  EXPECT_TRUE(bucket.try_acquire());
}

TEST(TokenBucket, AcquireIsInterruptibleWithTheRealClock) {
  TokenBucket bucket({1, std::chrono::hours(1)});
  ASSERT_TRUE(bucket.acquire());
  std::stop_source stop;
  std::atomic<bool> result{true};
  std::thread t([&] { result = bucket.acquire(stop.get_token()); });
  std::this_thread::sleep_for(50ms);
  stop.request_stop();
  t.join();  // returns promptly: otherwise the test times out (ctest TIMEOUT)
  EXPECT_FALSE(result.load());
}

TEST(TokenBucket, RegistrySharesOneBucketPerTenantAndFamily) {
  auto& reg = TokenBucketRegistry::instance();
  reg.clear();
  BucketKey a{"https://login.microsoftonline.com", "t1", "c1", "graph_reports"};
  BucketKey b = a;
  b.tenant = "t2";
  auto b1 = reg.get(a);
  auto b2 = reg.get(a, {100, 1s});
  auto b3 = reg.get(b);
  EXPECT_EQ(b1, b2);
  EXPECT_NE(b1, b3);
  EXPECT_EQ(b2->limit().capacity, 5);
  reg.clear();
}
