// Building a PathSet: a set resolved without finish() after its last add() answers as a finished
// one (release builds included: the guesses table it would read is not there), and a wide object of
// paths (thousands of siblings, as a generated mapping could have) is added and finished in time
// linear in its size, with the results of Path::first().
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "connector/record/json_access.h"

namespace siem::json {
namespace {

std::string text_of(const std::vector<PathSet::Result>& results, std::size_t i) {
  return results[i].found ? to_json(results[i].value) : "<none>";
}

std::string text_of(const std::optional<element>& e) { return e ? to_json(*e) : "<none>"; }

// Every path of `set` (slot i: paths[i]) resolved by each resolve() against Path::first().
void expect_like_path_first(const PathSet& set, const std::vector<Path>& paths, element root, std::uint64_t generation) {
  std::vector<PathSet::Result> plain(paths.size()), indexed(paths.size()), touched(paths.size());
  const Fields index(root);
  set.resolve(root, plain, generation);
  set.resolve(root, index, indexed, generation);
  set.resolve_touched(root, &index, touched, generation);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    SCOPED_TRACE("path '" + paths[i].text() + "'");
    const std::string want = text_of(paths[i].first(root));
    EXPECT_EQ(text_of(plain, i), want);
    EXPECT_EQ(plain[i].generation, generation);
    EXPECT_EQ(text_of(indexed, i), want);
    // resolve_touched() leaves the slots its walk does not reach: they read as missing.
    EXPECT_EQ(touched[i].generation == generation ? text_of(touched, i) : "<none>", want);
  }
}

// Release builds: the misuse is answered correctly, counted per resolve and warned about once per
// process (the first unfinished resolve logs, naming it). Debug builds assert instead.
#ifdef NDEBUG
TEST(PathSetBuild, ASetNotFinishedAfterItsLastAddResolvesAsAFinishedOne) {
  const std::uint64_t before = PathSet::unfinished_resolves();
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(std::string(R"({"user":{"id":"1","name":"alice","Name":"folded","mail":"m"},)"
                                     R"("tenant":"t","list":[{"a":1},{"a":2}],"n":null})"))
                .get(root),
            simdjson::SUCCESS);
  std::vector<Path> paths;
  for (const char* p : {"user.name", "user.NAME", "user.id", "tenant", "list.1.a", "n", "missing", "user.mail", ""})
    paths.emplace_back(p);
  PathSet never;  // finish() never called
  for (std::size_t i = 0; i < paths.size(); ++i) never.add(paths[i], static_cast<int>(i));
  expect_like_path_first(never, paths, root, 1);
  expect_like_path_first(never, paths, root, 2);
  PathSet later;  // finished, then added to
  for (std::size_t i = 0; i < 3; ++i) later.add(paths[i], static_cast<int>(i));
  later.finish();
  expect_like_path_first(later, std::vector<Path>(paths.begin(), paths.begin() + 3), root, 1);
  for (std::size_t i = 3; i < paths.size(); ++i) later.add(paths[i], static_cast<int>(i));
  expect_like_path_first(later, paths, root, 2);
  later.finish();
  expect_like_path_first(later, paths, root, 3);
  const auto logged = sink->last_formatted();
  spdlog::set_default_logger(previous);
  EXPECT_EQ(PathSet::unfinished_resolves() - before, 9u) << "three unfinished resolve rounds of three calls each";
  // Once per process: this test's resolves were the first only if none came before.
  ASSERT_EQ(logged.size(), before == 0 ? 1u : 0u);
  if (before == 0) {
    EXPECT_NE(logged[0].find("[warning] path set resolved unfinished"), std::string::npos) << logged[0];
  }
}
#else
TEST(PathSetBuild, ASetNotFinishedAfterItsLastAddAssertsInDebugBuilds) {
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(std::string(R"({"a":1})")).get(root), simdjson::SUCCESS);
  PathSet never;
  never.add(Path("a"), 0);
  std::vector<PathSet::Result> results(1);
  EXPECT_DEATH(never.resolve(root, results, 1), "without finish");
}
#endif

TEST(PathSetBuild, AWideObjectOfPathsResolvesLikePathFirst) {
  // 4 000 siblings under "w", one in ten also in another case ("K7" beside "k7"), every tenth
  // with a child of its own; the record has most of them, some only in another case.
  constexpr std::size_t kWide = 4'000;
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < kWide; ++i) {
    texts.push_back("w.k" + std::to_string(i));
    if (i % 10 == 7) texts.push_back("w.K" + std::to_string(i));
    if (i % 10 == 3) texts.push_back("w.k" + std::to_string(i) + ".x");
  }
  std::vector<Path> paths(texts.begin(), texts.end());
  PathSet set;
  for (std::size_t i = 0; i < paths.size(); ++i) set.add(paths[i], static_cast<int>(i));
  set.finish();
  // Built in linear time (milliseconds; each add() re-indexing the siblings and comparing each with
  // every other, as it did, took minutes): not timed here, since speed is measured by benchmarks;
  // the suite's per-test time-out is what a return to quadratic building would hit.
  std::string json = R"({"w":{)";
  for (std::size_t i = 0; i < kWide; ++i) {
    if (i % 13 == 5) continue;  // missing
    if (i > 0) json += ",";
    const std::string key = (i % 17 == 2 ? "K" : "k") + std::to_string(i);  // some only case-folded
    json += "\"" + key + "\":" + (i % 10 == 3 ? R"({"x":)" + std::to_string(i) + "}" : std::to_string(i));
  }
  json += "}}";
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS);
  for (std::uint64_t generation = 1; generation <= 2; ++generation)  // the second walk takes the guesses
    expect_like_path_first(set, paths, root, generation);
}

}  // namespace
}  // namespace siem::json
