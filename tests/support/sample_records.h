// Every record of the payload samples in tests/data (*.json, *.ndjson), split the way the connector
// splits them, with the file each came from. Header-only: unit tests of several modules use it
// without linking the test support library.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "connector/core/record_reader.h"

namespace siem::testing {

struct SampleRecord {
  std::string json;
  std::string file;  // file name in tests/data
};

inline std::vector<SampleRecord> sample_records(const std::filesystem::path& dir = SIEM_TEST_DATA_DIR) {
  std::vector<SampleRecord> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto ext = entry.path().extension();
    if (ext != ".json" && ext != ".ndjson") continue;
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    const auto name = entry.path().filename().string();
    RecordReader::split(ss.str(), [&](const RecordSlice& s) { out.push_back(SampleRecord{std::string(s.json), name}); },
                        [](const ReadError&) {});
  }
  return out;
}

}  // namespace siem::testing
