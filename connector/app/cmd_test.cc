// `siem-connector test [DIR]`: runs mapping test cases (YAML) offline and prints "N passed, N failed".
//
// A case file holds `cases:` (a list) or a single case:
//   name: ...
//   source: graph_pim_request          # optional: forces the record kind
//   config: {pim_min_justification_chars: 20}   # optional: `enrichment:` overrides for this case
//   input: {...}  | input_json: '...' | input_file: data/x.json (+ index: N) | inputs: [{...}, ...]
//   expect:
//     ecs: {"event.id": "...", "user.name": null}     # dotted paths; null = must be absent
//     cef: {externalId: "...", name: "...", severity: 7}
//     ocsf: {class_uid: 3002, "user.name": "...", "enrichments.0.value": tier0}   # as ecs
//     tags: [pa.pim.activation]   absent_tags: [...]   tier: 0   severity: 7
//     ignore_tags: [pa.signin.*]      # pa.* tags the case does not care about (name or prefix*)
// pa.* tags are exact: the record must carry every listed one and no other, unless ignore_tags
// names it (no `tags` = no pa.* tag). Other tags are checked only when listed.
// With `inputs`, every record is mapped in order through one mapper (so roster learning carries
// over) and the expectations apply to the last one.
// Every case's OCSF event must be valid JSON; `--ocsf-out FILE` writes them (one per line) for the
// schema validator (tests/ocsf/ocsf_validate.py).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "connector/app/commands.h"
#include "connector/config/config_node.h"
#include "connector/core/record_reader.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"
#include "connector/record/cef_parser.h"

namespace siem::app {

namespace {

nlohmann::json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json j = nlohmann::json::object();
      for (auto it = n.begin(); it != n.end(); ++it) j[it->first.Scalar()] = yaml_to_json(it->second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& x : n) j.push_back(yaml_to_json(x));
      return j;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted: always a string
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      try {
        std::size_t used = 0;
        const long long i = std::stoll(s, &used);
        if (used == s.size()) return i;
        const double d = std::stod(s, &used);
        if (used == s.size()) return d;
      } catch (const std::exception&) {
      }
      return s;
    }
    default: return nullptr;
  }
}

// yaml-cpp keeps one of two equal keys silently: in an expectation that hides a check, so it is an error.
void duplicate_keys(const YAML::Node& n, const std::string& path, std::vector<std::string>& problems, int depth = 0) {
  if (depth > 16) return;
  if (n.IsMap()) {
    std::set<std::string, std::less<>> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
      if (!seen.insert(key).second)
        problems.push_back(fmt::format("duplicate key '{}' in {} (line {})", key, path, it->first.Mark().line + 1));
      duplicate_keys(it->second, path + "." + key, problems, depth + 1);
    }
  } else if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i) duplicate_keys(n[i], fmt::format("{}[{}]", path, i), problems, depth + 1);
  }
}

std::string location(const std::string& file, const YAML::Node& n) {
  return n.Mark().line >= 0 ? fmt::format("{}:{}", file, n.Mark().line + 1) : file;
}

const nlohmann::json* ecs_lookup(const nlohmann::json& doc, const std::string& dotted) {
  if (doc.contains(dotted)) return &doc[dotted];
  const nlohmann::json* cur = &doc;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    auto dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    const std::string seg = dotted.substr(start, dot - start);
    if (cur->is_object() && cur->contains(seg)) cur = &(*cur)[seg];
    else if (cur->is_array() && !seg.empty() && std::all_of(seg.begin(), seg.end(), ::isdigit) &&
             std::stoul(seg) < cur->size())
      cur = &(*cur)[std::stoul(seg)];
    else return nullptr;
    start = dot + 1;
  }
  return cur;
}

bool same(const nlohmann::json& expected, const nlohmann::json& actual) {
  if (expected == actual) return true;
  if (expected.is_number() && actual.is_number()) return expected.get<double>() == actual.get<double>();
  auto text = [](const nlohmann::json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); };
  if (!expected.is_structured() && !actual.is_structured()) return text(expected) == text(actual);
  return false;
}

struct CaseRunner {
  const std::optional<std::string>& base_config;
  std::size_t passed = 0, failed = 0;
  bool verbose = false;
  std::ofstream* ocsf_out = nullptr;  // --ocsf-out: every case's OCSF event

  std::unique_ptr<Mapper> make_mapper(const YAML::Node& overrides, std::vector<std::string>& problems,
                                      const std::filesystem::path& case_dir) {
    YAML::Node cfg;
    if (base_config) {
      try {
        cfg = YAML::LoadFile(*base_config);
      } catch (const YAML::Exception& e) {
        problems.push_back(fmt::format("cannot load {}: {}", *base_config, e.msg));
        return nullptr;
      }
    }
    YAML::Node enrichment = cfg["enrichment"] ? YAML::Clone(cfg["enrichment"]) : YAML::Node(YAML::NodeType::Map);
    if (overrides && overrides.IsMap())
      for (auto it = overrides.begin(); it != overrides.end(); ++it) enrichment[it->first.Scalar()] = it->second;
    YAML::Node root(YAML::NodeType::Map);
    root["enrichment"] = enrichment;
    if (cfg["mappings"]) root["mappings"] = cfg["mappings"];
    YAML::Emitter emitter;
    emitter << root;
    Diagnostics diags;
    auto doc = ConfigDocument::load_string(emitter.c_str(), "<case config>", diags, case_dir);
    auto r = doc->root();
    auto mapper = make_mapping_stage(r, nullptr);
    if (diags.has_errors()) {
      problems.push_back("invalid case config: " + diags.format());
      return nullptr;
    }
    return mapper;
  }

  std::vector<std::string> inputs_of(const YAML::Node& c, const std::filesystem::path& dir, std::vector<std::string>& problems) {
    std::vector<std::string> out;
    if (c["input"]) out.push_back(yaml_to_json(c["input"]).dump());
    if (c["input_json"]) out.push_back(c["input_json"].Scalar());
    if (c["inputs"])
      for (const auto& x : c["inputs"]) out.push_back(yaml_to_json(x).dump());
    if (c["input_file"]) {
      const auto path = dir / c["input_file"].Scalar();
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        problems.push_back(fmt::format("cannot read input_file {}", path.string()));
        return out;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string text = ss.str();
      std::vector<std::string> records;
      RecordReader::split(
          text, [&](const RecordSlice& s) { records.emplace_back(s.json); },
          [&](const ReadError& e) { problems.push_back(fmt::format("{}:{}: {}", path.string(), e.line, e.reason)); });
      const std::size_t index = c["index"] ? c["index"].as<std::size_t>() : 0;
      if (index >= records.size()) problems.push_back(fmt::format("{} has no record #{}", path.string(), index));
      else out.push_back(records[index]);
    }
    if (out.empty()) problems.push_back("no input (input, input_json, inputs or input_file)");
    return out;
  }

  // Expectations of a JSON output (ecs, ocsf): dotted paths (array indexes allowed); null = absent.
  static void check_json(const YAML::Node& e, const char* format, const nlohmann::json& doc,
                         std::vector<std::string>& problems) {
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string path = it->first.Scalar();
      const auto want = yaml_to_json(it->second);
      const auto* got = ecs_lookup(doc, path);
      if (want.is_null()) {
        if (got) problems.push_back(fmt::format("{} {}: expected absent, got {}", format, path, got->dump()));
      } else if (!got) {
        problems.push_back(fmt::format("{} {}: expected {}, missing", format, path, want.dump()));
      } else if (!same(want, *got)) {
        problems.push_back(fmt::format("{} {}: expected {}, got {}", format, path, want.dump(), got->dump()));
      }
    }
  }

  void check(const YAML::Node& expect, const MappedEvent& ecs_ev, const MappedEvent& cef_ev, std::vector<std::string>& problems) {
    nlohmann::json ecs, ocsf;
    try {
      ecs = nlohmann::json::parse(ecs_ev.ecs);
    } catch (const std::exception& e) {
      problems.push_back(fmt::format("ECS output is not valid JSON: {}", e.what()));
      return;
    }
    try {
      ocsf = nlohmann::json::parse(ecs_ev.ocsf);
    } catch (const std::exception& e) {
      problems.push_back(fmt::format("OCSF output is not valid JSON: {}", e.what()));
      return;
    }
    if (ocsf_out) *ocsf_out << ecs_ev.ocsf << '\n';
    // One identity across formats: OCSF metadata.uid is ECS event.id.
    if (const auto *uid = ecs_lookup(ocsf, "metadata.uid"), *id = ecs_lookup(ecs, "event.id"); !uid || !id || *uid != *id)
      problems.push_back(fmt::format("ocsf metadata.uid {} is not ecs event.id {}", uid ? uid->dump() : "(absent)",
                                     id ? id->dump() : "(absent)"));
    if (auto e = expect["ocsf"]) check_json(e, "ocsf", ocsf, problems);
    std::string cef_error;
    auto cef = parse_cef_strict(cef_ev.cef, &cef_error);
    if (!cef) {
      problems.push_back(fmt::format("CEF output does not parse ({}): {}", cef_error, cef_ev.cef));
      return;
    }
    if (auto e = expect["ecs"]) check_json(e, "ecs", ecs, problems);
    auto cef_field = [&](const std::string& key) -> std::optional<std::string> {
      if (key == "name") return cef->name;
      if (key == "vendor") return cef->vendor;
      if (key == "product") return cef->product;
      if (key == "version") return cef->device_version;
      if (key == "class_id") return cef->class_id;
      if (key == "severity") return std::to_string(cef->severity);
      return cef->get(key);
    };
    if (auto e = expect["cef"]) {
      for (auto it = e.begin(); it != e.end(); ++it) {
        const std::string key = it->first.Scalar();
        const auto got = cef_field(key);
        if (it->second.IsNull()) {
          if (got) problems.push_back(fmt::format("cef {}: expected absent, got '{}'", key, *got));
          continue;
        }
        const std::string want = it->second.Scalar();
        if (!got) problems.push_back(fmt::format("cef {}: expected '{}', missing", key, want));
        else if (*got != want) problems.push_back(fmt::format("cef {}: expected '{}', got '{}'", key, want, *got));
      }
    }
    std::vector<std::string> ecs_tags;
    if (ecs.contains("tags")) ecs_tags = ecs["tags"].get<std::vector<std::string>>();
    std::vector<std::string> cef_tags;
    if (auto cs6 = cef->get("cs6")) {
      std::stringstream ss(*cs6);
      std::string t;
      while (std::getline(ss, t, ',')) cef_tags.push_back(t);
    }
    auto has = [](const std::vector<std::string>& v, const std::string& t) { return std::find(v.begin(), v.end(), t) != v.end(); };
    for (const auto& t : expect["tags"]) {
      if (!has(ecs_tags, t.Scalar())) problems.push_back(fmt::format("ECS tags lack {}", t.Scalar()));
      if (t.Scalar().rfind("pa.", 0) == 0 && !has(cef_tags, t.Scalar())) problems.push_back(fmt::format("CEF cs6 lacks {}", t.Scalar()));
    }
    // Exact: every pa.* tag the record got is one the case expects, or one it says it does not
    // care about (ignore_tags: a name, or a prefix ending in '*').
    auto ignored = [&](const std::string& tag) {
      for (const auto& p : expect["ignore_tags"]) {
        const std::string& pat = p.Scalar();
        if (pat == tag || (!pat.empty() && pat.back() == '*' && tag.rfind(pat.substr(0, pat.size() - 1), 0) == 0)) return true;
      }
      return false;
    };
    std::vector<std::string> listed;
    for (const auto& t : expect["tags"]) listed.push_back(t.Scalar());
    std::vector<std::string> unexpected;
    for (const auto* got : {&ecs_tags, &cef_tags})
      for (const auto& t : *got)
        if (t.rfind("pa.", 0) == 0 && !has(listed, t) && !ignored(t) && !has(unexpected, t)) unexpected.push_back(t);
    for (const auto& t : unexpected) problems.push_back(fmt::format("unexpected tag {} (list it in tags, or in ignore_tags)", t));
    for (const auto& t : expect["absent_tags"]) {
      if (has(ecs_tags, t.Scalar())) problems.push_back(fmt::format("ECS tags must not have {}", t.Scalar()));
      if (has(cef_tags, t.Scalar())) problems.push_back(fmt::format("CEF cs6 must not have {}", t.Scalar()));
    }
    if (auto t = expect["tier"]) {
      const auto* got = ecs_lookup(ecs, "azure.privileged_access.tier");
      const auto cn3 = cef->get("cn3");
      if (t.IsNull()) {
        if (got) problems.push_back(fmt::format("tier: expected none, ECS has {}", got->dump()));
        if (cn3) problems.push_back(fmt::format("tier: expected none, CEF cn3={}", *cn3));
      } else {
        if (!got || got->dump() != t.Scalar()) problems.push_back(fmt::format("tier: expected {}, ECS has {}", t.Scalar(), got ? got->dump() : "none"));
        if (!cn3 || *cn3 != t.Scalar()) problems.push_back(fmt::format("tier: expected {}, CEF cn3 is {}", t.Scalar(), cn3.value_or("absent")));
      }
    }
    if (auto s = expect["severity"]) {
      const auto* got = ecs_lookup(ecs, "event.severity");
      if (!got || got->dump() != s.Scalar()) problems.push_back(fmt::format("severity: expected {}, ECS event.severity is {}", s.Scalar(), got ? got->dump() : "absent"));
      if (std::to_string(cef->severity) != s.Scalar()) problems.push_back(fmt::format("severity: expected {}, CEF header has {}", s.Scalar(), cef->severity));
    }
  }

  void run_case(const YAML::Node& c, const std::string& file, std::size_t index) {
    const std::string name = c["name"] ? c["name"].Scalar() : fmt::format("case {}", index);
    const std::string where = location(file, c);
    std::vector<std::string> problems;
    duplicate_keys(c["expect"], "expect", problems);
    const auto dir = std::filesystem::path(file).parent_path();
    std::optional<SourceKind> forced;
    if (c["source"]) {
      forced = source_kind_from_string(c["source"].Scalar());
      if (!forced) problems.push_back(fmt::format("unknown source kind '{}'", c["source"].Scalar()));
    }
    auto inputs = inputs_of(c, dir, problems);
    auto ecs_mapper = problems.empty() ? make_mapper(c["config"], problems, dir) : nullptr;
    auto cef_mapper = problems.empty() ? make_mapper(c["config"], problems, dir) : nullptr;
    MappedEvent ecs_ev, cef_ev;
    if (problems.empty()) {
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        RawRecord rec;
        rec.json = inputs[i];
        rec.origin = where;
        // ECS and OCSF from one mapper (OCSF is written from the same mapping result), CEF alone.
        auto e1 = ecs_mapper->map(rec, forced, format_bit(OutputFormat::ecs) | format_bit(OutputFormat::ocsf), ecs_ev);
        auto e2 = cef_mapper->map(rec, forced, format_bit(OutputFormat::cef), cef_ev);
        if (e1 || e2) {
          if (c["expect"] && c["expect"]["error"]) {
            if (i + 1 == inputs.size() && !json_contains(*e1, c["expect"]["error"].Scalar()))
              problems.push_back(fmt::format("expected error containing '{}', got '{}'", c["expect"]["error"].Scalar(), *e1));
            else goto done;
          }
          problems.push_back(fmt::format("input #{} did not map: {}", i, e1 ? *e1 : *e2));
          break;
        }
      }
      if (problems.empty()) {
        if (c["expect"] && c["expect"]["error"]) problems.push_back("expected a mapping error, the record mapped");
        else check(c["expect"], ecs_ev, cef_ev, problems);
      }
    }
  done:
    if (problems.empty()) {
      ++passed;
      if (verbose) std::cout << fmt::format("PASS {}: {}\n", where, name);
      return;
    }
    ++failed;
    std::cout << fmt::format("FAIL {}: {}\n", where, name);
    for (const auto& p : problems) std::cout << "     " << p << "\n";
  }

  static bool json_contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

  void run_file(const std::string& file) {
    YAML::Node doc;
    try {
      doc = YAML::LoadFile(file);
    } catch (const YAML::Exception& e) {
      ++failed;
      std::cout << fmt::format("FAIL {}:{}: YAML error: {}\n", file, e.mark.line + 1, e.msg);
      return;
    }
    if (doc["cases"]) {
      std::size_t i = 0;
      for (const auto& c : doc["cases"]) run_case(c, file, i++);
    } else if (doc.IsMap()) {
      run_case(doc, file, 0);
    }
  }
};

}  // namespace

int test_command(const TestOptions& options, const GlobalOptions&) {
  std::vector<std::string> files;
  std::error_code ec;
  if (std::filesystem::is_regular_file(options.dir, ec)) {
    files.push_back(options.dir);
  } else if (std::filesystem::is_directory(options.dir, ec)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(options.dir, ec))
      if (e.is_regular_file() && (e.path().extension() == ".yaml" || e.path().extension() == ".yml") &&
          e.path().string().find("/data/") == std::string::npos)
        files.push_back(e.path().string());
  } else {
    std::cerr << fmt::format("siem-connector test: {} is not a file or directory\n", options.dir);
    return 2;
  }
  std::sort(files.begin(), files.end());
  CaseRunner runner{options.config_file};
  runner.verbose = options.verbose;
  std::ofstream ocsf_out;
  if (options.ocsf_out) {
    ocsf_out.open(*options.ocsf_out, std::ios::binary | std::ios::trunc);
    if (!ocsf_out) {
      std::cerr << fmt::format("siem-connector test: cannot write {}: {}\n", *options.ocsf_out, std::strerror(errno));
      return 2;
    }
    runner.ocsf_out = &ocsf_out;
  }
  for (const auto& f : files) runner.run_file(f);
  std::cout << fmt::format("{} passed, {} failed\n", runner.passed, runner.failed);
  if (options.ocsf_out && !ocsf_out.flush()) {
    std::cerr << fmt::format("siem-connector test: cannot write {}\n", *options.ocsf_out);
    return 2;
  }
  return runner.failed == 0 && runner.passed > 0 ? 0 : 1;
}

}  // namespace siem::app
