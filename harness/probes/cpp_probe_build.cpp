#include "probes/cpp_probe_build.h"

#include "runtime/protocol.h"
#include "util/hash.h"

#include <fmt/core.h>
#include <map>
#include <sstream>
#include <unistd.h>

namespace loadmatrix {

namespace {

Expected<std::string> probe_key(const Environment& env) {
  Fnv1a hash;
  hash.add(env.manifest.to_json().dump());
  const ShippedFiles& shipped = env.shipped;
  for (const auto& source :
       {shipped.cpp_probe_dir / "CMakeLists.txt", shipped.cpp_probe_dir / "cpp_probe.cpp",
        shipped.cpp_probe_util_dir / "utf8.h"}) {
    auto text = read_text_file(source);
    if (!text) {
      return text.error();
    }
    hash.add(source.filename().string()).add(*text);
  }
  return hash.hex();
}

} // namespace

Expected<CppProbe> ensure_cpp_probe(const Environment& env, const EnvCache& cache,
                                    ProcessRunner& runner, const ProgressLog& log) {
  auto key = probe_key(env);
  if (!key) {
    return key.error();
  }
  CppProbe probe;
  probe.dir = cache.probes_dir(env.spec.name) / *key;
  if (std::filesystem::exists(probe.dir / "cpp_probe")) {
    return probe;
  }
  std::string torch_dir;
  if (env.spec.libtorch_cmake_dir) {
    torch_dir = *env.spec.libtorch_cmake_dir;
  } else if (!env.fingerprint().libtorch_cmake_dirs.empty()) {
    torch_dir = env.fingerprint().libtorch_cmake_dirs.front();
  } else {
    return Error{fmt::format("env {}: no libtorch CMake config (TorchConfig.cmake) found; "
                             "install libtorch-dev there or set libtorch_cmake_dir",
                             env.spec.name)};
  }

  auto partial = cache.probes_dir(env.spec.name) / (*key + fmt::format(".partial-{}", ::getpid()));
  std::filesystem::remove_all(partial);
  make_sandbox_writable(partial); // the build writes here as the sandbox user

  SandboxMount sources = env.sandbox.place(env.shipped.cpp_probe_dir, "probe-src", false);
  SandboxMount util = env.sandbox.place(env.shipped.cpp_probe_util_dir, "probe-util", false);
  SandboxMount build = env.sandbox.place(partial, "probe-build", true);
  SandboxCommand command;
  command.argv = {"sh",
                  "-c",
                  "set -e; cmake -S \"$0\" -B \"$1\" -DCMAKE_BUILD_TYPE=Release "
                  "-DTorch_DIR=\"$2\" -DLOADMATRIX_UTIL_DIR=\"$3\" >\"$1/configure.log\" 2>&1 || "
                  "{ tail -n 30 \"$1/configure.log\" >&2; exit 1; }; "
                  "cmake --build \"$1\" -j2 >\"$1/build.log\" 2>&1 || "
                  "{ tail -n 30 \"$1/build.log\" >&2; exit 1; }",
                  sources.inside.string(),
                  build.inside.string(),
                  torch_dir,
                  util.inside.string()};
  command.mounts = {sources, util, build};
  command.timeout = std::chrono::minutes(15);
  log(fmt::format("env {}: building the C++ probe against {} (about 30 s)", env.spec.name,
                  torch_dir));
  auto started = std::chrono::steady_clock::now();
  ProcessResult result = env.sandbox.run(runner, command);
  probe.build_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!result.succeeded() || !std::filesystem::exists(partial / "cpp_probe")) {
    std::filesystem::remove_all(partial);
    return Error{fmt::format("env {}: building the C++ probe failed ({}):\n{}", env.spec.name,
                             result.describe(), result.stderr_text)};
  }
  std::error_code ec;
  std::filesystem::create_directories(probe.dir, ec);
  std::filesystem::rename(partial / "cpp_probe", probe.dir / "cpp_probe", ec);
  if (ec) {
    return Error{fmt::format("rename {} into {}: {}", (partial / "cpp_probe").string(),
                             probe.dir.string(), ec.message())};
  }
  std::filesystem::remove_all(partial, ec);
  probe.built = true;
  return probe;
}

CppProbeRun run_cpp_probe(const Environment& env, const CppProbe& probe, ProcessRunner& runner,
                          const std::string& mode, const std::filesystem::path& file,
                          std::chrono::milliseconds timeout) {
  auto absolute = std::filesystem::absolute(file);
  SandboxMount binary = env.sandbox.place(probe.dir, "probe", false);
  SandboxMount input = env.sandbox.place(absolute.parent_path(), "input", false);
  SandboxCommand command;
  command.argv = {(binary.inside / "cpp_probe").string(), mode,
                  (input.inside / absolute.filename()).string()};
  command.mounts = {binary, input};
  command.timeout = timeout;
  CppProbeRun run{env.sandbox.run(runner, command), Error{""}};
  run.report = final_protocol_message(run.result.stdout_text,
                                      fmt::format("env {}: cpp_probe {}", env.spec.name, mode));
  return run;
}

} // namespace loadmatrix

namespace loadmatrix {

std::vector<Json> run_cpp_probe_batch(const Environment& env, const CppProbe& probe,
                                      ProcessRunner& runner, const std::string& mode,
                                      const std::filesystem::path& root,
                                      const std::vector<std::filesystem::path>& files,
                                      std::chrono::seconds per_file_timeout) {
  SandboxMount binary = env.sandbox.place(probe.dir, "probe", false);
  SandboxMount input = env.sandbox.place(root, "input", false);
  SandboxCommand command;
  command.argv = {(binary.inside / "cpp_probe").string(), mode, "--timeout",
                  std::to_string(per_file_timeout.count())};
  for (const auto& file : files) {
    command.argv.push_back((input.inside / std::filesystem::relative(file, root)).string());
  }
  command.mounts = {binary, input};
  command.timeout =
      per_file_timeout * static_cast<long>(files.size() + 1) + std::chrono::minutes(1);
  command.output_limit = 64 << 20;
  ProcessResult result = env.sandbox.run(runner, command);

  std::vector<Json> facts(files.size(), Json{{"status", "crashed"},
                                             {"detail", "the C++ probe reported nothing for this "
                                                        "file (" +
                                                            result.describe() + ")"}});
  for (auto& report : protocol_messages(result.stdout_text, "cpp_probe")) {
    // Reports are matched by the file's position among the arguments, not by its name.
    if (!report || !report->is_object() || !report->contains("index") ||
        !report->at("index").is_number_unsigned() ||
        report->at("index").get<size_t>() >= files.size()) {
      continue;
    }
    Json& fact = facts[report->at("index").get<size_t>()];
    if (report->value("timeout", false)) {
      fact = {{"status", "timeout"}, {"detail", "torch did not finish loading in time"}};
    } else if (report->value("crashed", false)) {
      fact = {{"status", "crashed"}, {"signal", report->value("signal", 0)}};
    } else if (report->value("ok", false)) {
      fact = {{"status", "returned"}, {"description", report->value("value", Json())}};
    } else {
      fact = {{"status", "raised"},
              {"error_type", report->value("error_type", "")},
              {"message", report->value("message", "")}};
    }
  }
  return facts;
}

} // namespace loadmatrix
