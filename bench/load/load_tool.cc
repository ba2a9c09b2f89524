// siem-load: end-to-end load of the real binary. Generates N realistic records (the weighted mix of
// the tests/data samples, each with a unique id), runs `siem-connector run --once` with a file
// source and a file sink, checks that every record arrived, and reports events/s (wall clock and
// per CPU second) and the connector's peak RSS (getrusage of the child).
//
//   siem-load [--records N] [--format ecs|cef|raw] [--connector PATH] [--dir DIR] [--keep]
//   siem-load --generate-only --dir DIR [--records N]   (writes DIR/in.ndjson and exits; bench/race uses it)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/mapping/record_corpus.h"

namespace fs = std::filesystem;

namespace {

struct Options {
  std::size_t records = 200'000;
  std::string format = "ecs";
  std::string connector = SIEM_BINARY_DIR "/siem-connector";
  std::string dir;
  bool keep = false;
  bool generate_only = false;
};

[[noreturn]] void usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "siem-load: " << problem << "\n";
  std::cerr << "usage: siem-load [--records N] [--format ecs|cef|raw] [--connector PATH] [--dir DIR] [--keep]\n"
               "       siem-load --generate-only --dir DIR [--records N]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--records") {
      const std::string v = value();
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n == 0) usage("--records must be a positive number, not '" + v + "'");
      o.records = n;
    } else if (a == "--format") {
      o.format = value();
      if (o.format != "ecs" && o.format != "cef" && o.format != "raw") usage("--format is ecs, cef or raw");
    } else if (a == "--connector") {
      o.connector = value();
    } else if (a == "--dir") {
      o.dir = value();
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--generate-only") {
      o.generate_only = true;
    } else if (a == "-h" || a == "--help") {
      usage("");
    } else {
      usage("unknown argument '" + a + "'");
    }
  }
  if (o.generate_only && o.dir.empty()) usage("--generate-only needs --dir");
  return o;
}

std::size_t count_lines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::size_t n = 0;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    for (std::size_t i = 0; i < got; ++i) n += buf[i] == '\n';
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  if (!opt.generate_only && ::access(opt.connector.c_str(), X_OK) != 0) usage(fmt::format("{}: not an executable ({})", opt.connector, std::strerror(errno)));

  fs::path dir;
  if (opt.dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "siem-load-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      std::cerr << "siem-load: mkdtemp: " << std::strerror(errno) << "\n";
      return 1;
    }
    dir = tmpl;
  } else {
    dir = opt.dir;
    fs::create_directories(dir);
  }

  // 1. Input: the realistic mix, each record with its own id.
  siem::bench::Corpus corpus;
  try {
    corpus = siem::bench::Corpus::load(SIEM_TEST_DATA_DIR);
  } catch (const std::exception& e) {
    std::cerr << "siem-load: " << e.what() << "\n";
    return 1;
  }
  const auto mix = corpus.mix(opt.records);
  std::uint64_t input_bytes = 0;
  {
    std::ofstream in(dir / "in.ndjson", std::ios::binary | std::ios::trunc);
    std::string line;
    for (std::size_t i = 0; i < mix.size(); ++i) {
      line = siem::bench::with_unique_id(*mix[i], i);
      line += '\n';
      input_bytes += line.size();
      in << line;
    }
    if (!in) {
      std::cerr << "siem-load: cannot write " << (dir / "in.ndjson").string() << "\n";
      return 1;
    }
  }
  if (opt.generate_only) {
    std::cout << fmt::format("siem-load: wrote {} records ({:.1f} MB, realistic mix) to {}\n", mix.size(),
                             static_cast<double>(input_bytes) / 1e6, (dir / "in.ndjson").string());
    return 0;
  }
  std::ofstream(dir / "config.yaml", std::ios::trunc)
      << "# written by siem-load\n"
         "state_dir: state\n"
         "dead_letter: {path: dead-letter.ndjson}\n"
         "sources:\n"
         "  - {name: load, type: file, path: in.ndjson}\n"
         "sinks:\n"
      << fmt::format("  - {{name: out, type: file, format: {}, path: out.ndjson}}\n", opt.format);
  fs::remove_all(dir / "state");
  fs::remove(dir / "out.ndjson");
  fs::remove(dir / "dead-letter.ndjson");

  // 2. Run the connector once over it.
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::cerr << "siem-load: fork: " << std::strerror(errno) << "\n";
    return 1;
  }
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) _exit(127);
    std::FILE* out = std::freopen("connector.stdout", "w", stdout);
    std::FILE* err = std::freopen("connector.stderr", "w", stderr);
    if (!out || !err) _exit(127);
    const std::string config = (dir / "config.yaml").string();
    ::execl(opt.connector.c_str(), opt.connector.c_str(), "run", "-c", config.c_str(), "--once", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  struct rusage usage {};
  if (::wait4(pid, &status, 0, &usage) != pid) {
    std::cerr << "siem-load: wait4: " << std::strerror(errno) << "\n";
    return 1;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

  // 3. Check and report.
  const std::size_t delivered = fs::exists(dir / "out.ndjson") ? count_lines(dir / "out.ndjson") : 0;
  const std::size_t dead = fs::exists(dir / "dead-letter.ndjson") ? count_lines(dir / "dead-letter.ndjson") : 0;
  std::cout << fmt::format(
      "siem-load: {} records ({:.1f} MB, realistic mix) -> {} file sink\n"
      "  connector exit status  {}\n"
      "  delivered              {} (dead-lettered {})\n"
      "  wall time              {:.2f} s\n"
      "  events/s (wall)        {:.0f}\n"
      "  CPU time (user+sys)    {:.2f} s\n"
      "  events per CPU second  {:.0f}\n"
      "  input MB/s (wall)      {:.1f}\n"
      "  peak RSS               {:.1f} MiB\n"
      "  work dir               {}\n",
      mix.size(), static_cast<double>(input_bytes) / 1e6, opt.format, exit_code, delivered, dead, wall,
      static_cast<double>(mix.size()) / wall, cpu, static_cast<double>(mix.size()) / cpu,
      static_cast<double>(input_bytes) / 1e6 / wall, static_cast<double>(usage.ru_maxrss) / 1024.0,
      opt.keep || !opt.dir.empty() ? dir.string() : "(removed; --keep to keep it)");
  const bool ok = exit_code == 0 && delivered == mix.size();
  if (!ok) std::cerr << "siem-load: the run did not deliver every record; see " << (dir / "connector.stderr").string() << "\n";
  if (ok && !opt.keep && opt.dir.empty()) fs::remove_all(dir);
  return ok ? 0 : 1;
}
