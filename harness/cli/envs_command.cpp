// loadmatrix envs list|provision: the environments a matrix declares, as they really are.
#include "cli/cli.h"
#include "cli/resources.h"
#include "envs/provisioner.h"
#include "matrix/matrix.h"
#include "probes/cpp_probe_build.h"
#include "util/text.h"
#include "util/text_table.h"

#include <fmt/core.h>
#include <iostream>
#include <memory>

namespace loadmatrix {

namespace {

struct EnvsArgs {
  std::vector<std::string> names;
  bool json = false;
  bool force = false;
  bool skip_probe = false;
  std::string mmdebstrap = "mmdebstrap";
};

std::string weights_only_column(const Fingerprint& fp) {
  if (!fp.has_weights_only) {
    return "absent";
  }
  if (!fp.weights_only_default) {
    return "?";
  }
  return *fp.weights_only_default ? "default" : "opt-in";
}

void list_envs(const GlobalOptions& options, const EnvsArgs& args) {
  Matrix matrix = load_matrix(options.matrix_path());
  EnvCache cache(EnvCache::resolve_dir(options.env_dir));
  Provisioner provisioner(cache, resources().shipped, system_runner(), [](const std::string&) {});
  Json rows = Json::array();
  for (const auto& spec : matrix.select_envs(args.names)) {
    EnvState state = provisioner.inspect(spec);
    Json row = {{"name", spec.name},
                {"kind", env_kind_name(spec.kind)},
                {"status", env_status_name(state.status)}};
    if (state.status == EnvStatus::missing) {
      state.detail =
          fmt::format("not provisioned yet (run: loadmatrix envs provision {}){}", spec.name,
                      spec.kind == EnvKind::container && !spec.from_env && spec.suite.empty()
                          ? fmt::format("; its image must exist first: {} pull {}",
                                        spec.engine.front(), spec.image)
                          : "");
    }
    if (!state.detail.empty()) {
      row["detail"] = state.detail;
    }
    if (spec.kind == EnvKind::pip) {
      row["requirements"] = spec.requirements;
    }
    if (state.manifest) {
      const Fingerprint& fp = state.manifest->fingerprint;
      row["torch"] = fp.torch;
      row["python"] = fp.python;
      row["numpy"] = fp.numpy ? Json(*fp.numpy) : Json(nullptr);
      row["weights_only"] = weights_only_column(fp);
      row["allowlist_size"] = fp.allowlist ? Json(fp.allowlist->size()) : Json(nullptr);
      row["cxx"] = fp.cxx ? Json(*fp.cxx) : Json(nullptr);
      row["created"] = state.manifest->created;
      // The weights-only APIs this torch has, as measured: what a fix may use there.
      Json apis = Json::array();
      for (const auto& [has, name] :
           {std::pair{fp.has_mmap, "mmap"}, std::pair{fp.has_add_safe_globals, "add_safe_globals"},
            std::pair{fp.has_safe_globals, "safe_globals"},
            std::pair{fp.has_get_unsafe_globals_in_checkpoint,
                      "get_unsafe_globals_in_checkpoint"}}) {
        if (has) {
          apis.push_back(name);
        }
      }
      row["apis"] = apis;
      if (auto it = state.manifest->packages.find("python3-torch");
          it != state.manifest->packages.end()) {
        row["python3_torch_package"] = it->second;
      }
    }
    rows.push_back(row);
  }
  if (args.json) {
    std::cout << Json{{"env_dir", cache.dir().string()}, {"envs", rows}}.dump(2) << "\n";
    return;
  }
  TextTable table;
  table.head = {"ENV",   "KIND",         "STATUS",    "TORCH", "PYTHON",
                "NUMPY", "WEIGHTS_ONLY", "ALLOWLIST", "APIS",  "COMPILER"};
  std::string details;
  for (const auto& row : rows) {
    auto text = [&](const char* key) {
      if (row.contains(key) && row[key].is_array()) {
        std::vector<std::string> items = row[key].get<std::vector<std::string>>();
        return items.empty() ? std::string("-") : join(items, ",");
      }
      return row.contains(key) && row[key].is_string()   ? row[key].get<std::string>()
             : row.contains(key) && row[key].is_number() ? row[key].dump()
                                                         : std::string("-");
    };
    std::vector<TableCell> cells;
    for (const char* key : {"name", "kind", "status", "torch", "python", "numpy", "weights_only",
                            "allowlist_size", "apis", "cxx"}) {
      cells.push_back({text(key)});
    }
    cells[2].tone = row["status"] == "ready" ? Tone::good : Tone::warn;
    table.rows.push_back(std::move(cells));
    if (row.contains("detail")) {
      details += fmt::format("{}: {}\n", text("name"), row["detail"].get<std::string>());
    }
  }
  std::cout << render_table(table, options.width_for(1), options.palette_for(1)) << details;
  std::cout << "env cache: " << cache.dir().string() << "\n";
}

void provision_envs(GlobalOptions& options, const EnvsArgs& args) {
  Matrix matrix = load_matrix(options.matrix_path());
  auto specs = matrix.select_envs(args.names);
  EnvCache cache(EnvCache::resolve_dir(options.env_dir));
  auto log = [&](const std::string& line) { log_progress(options, line); };
  Provisioner provisioner(cache, resources().shipped, system_runner(), log);
  ProvisionOptions provision_options;
  provision_options.force = args.force;
  provision_options.mmdebstrap = args.mmdebstrap;
  int failures = 0;
  // Each env is independent: one that fails to build is reported and the rest still get built.
  for (const auto& spec : specs) {
    auto outcome = provisioner.provision(spec, provision_options);
    if (!outcome) {
      std::cerr << "loadmatrix: error: " << outcome.error().message << "\n";
      ++failures;
      continue;
    }
    const Fingerprint& fp = outcome->environment.fingerprint();
    std::cout << fmt::format(
        "{}: {} (torch {}, Python {}, numpy {})\n", spec.name,
        outcome->remeasured ? "measured again (rootfs kept)"
        : outcome->built
            ? fmt::format("built in {:.0f} s", outcome->environment.manifest.build_seconds)
            : "ready, reused",
        fp.torch, fp.python, fp.numpy.value_or("none"));
    if (args.skip_probe) {
      continue;
    }
    auto probe = ensure_cpp_probe(outcome->environment, cache, system_runner(), log);
    if (!probe) {
      // The env is ready for every Python load; only libtorch's C++ modes need the probe, and a
      // user without a compiler or cmake is told, not failed (run marks those modes unsupported).
      std::cerr << "loadmatrix: warning: " << spec.name
                << ": the C++ probe was not built, so the cpp_pickle and cpp_jit modes will be "
                   "unsupported there: "
                << probe.error().message << "\n";
      continue;
    }
    std::cout << fmt::format("{}: C++ probe {}\n", spec.name,
                             probe->built ? fmt::format("built in {:.0f} s", probe->build_seconds)
                                          : "cached");
  }
  if (failures > 0) {
    throw FatalError(
        fmt::format("{} of {} env(s) could not be provisioned", failures, specs.size()));
  }
}

} // namespace

void add_envs_command(CLI::App& app, GlobalOptions& options) {
  auto args = std::make_shared<EnvsArgs>();
  CLI::App* envs = app.add_subcommand("envs", "Provision and inspect the torch environments");
  envs->require_subcommand(1);

  CLI::App* list = envs->add_subcommand(
      "list", "Each env's status and the versions it really has (read from the env itself)");
  list->add_option("names", args->names, "Envs to show (default: all in the matrix)");
  list->add_flag("--json", args->json, "Machine-readable output");
  list->callback([&options, args] { list_envs(options, *args); });

  CLI::App* provision = envs->add_subcommand(
      "provision", "Build missing or stale envs into the env cache, and their C++ probe");
  provision->add_option("names", args->names, "Envs to provision (default: all in the matrix)");
  provision->add_flag("--force", args->force, "Rebuild even if the cached env is ready");
  provision->add_flag("--skip-probe", args->skip_probe, "Do not build the C++ probe");
  provision->add_option("--mmdebstrap", args->mmdebstrap, "The mmdebstrap program to use")
      ->capture_default_str();
  provision->callback([&options, args] { provision_envs(options, *args); });
}

} // namespace loadmatrix
