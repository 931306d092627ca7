#include "scan/load_prediction.h"

#include "pickle/pickle_analysis.h"

#include <algorithm>
#include <fmt/core.h>
#include <map>
#include <optional>

namespace loadmatrix {

LoaderMode scan_loader_mode(ScanMode mode) {
  return mode == ScanMode::weights_only ? LoaderMode::weights_only : LoaderMode::default_load;
}

const char* scan_mode_id(ScanMode mode) {
  return loader_mode_id(scan_loader_mode(mode));
}

namespace {

// Why the weights-only unpickler refuses something, one case per sentence it gets.
enum class Why : uint8_t {
  opcode_not_implemented,
  module_blocklisted,
  never_allowlist,
  python2_spelling,
  numpy2_module,
  not_allowlisted,
  newobj_type_check,
  build_type_check,
  setitems_type_check,
  appends_type_check,
  numpy2_dtype_class,
  missing_in_env,
  foreign_persistent_id,
  own_refusal,
};

// One thing the weights-only unpickler refuses, at the stream position it meets it. A file
// meets many; only the first one's and the stopping one's sentences are ever read, so the
// sentence is written from these fields when asked for, not for every refusal.
struct Refused {
  StreamPosition at = 0;
  BlockReason reason = BlockReason::none;
  std::string_view global; // empty for opcodes and type checks
  // Loading stops here whatever is allowlisted: no later refusal is ever reached, and no
  // allowlist is a fix. (A plain non-allowlisted global does not stop: allowlisting it goes on.)
  bool stops = false;
  Why why = Why::not_allowlisted;
  std::string_view name;   // the global's name (the type's, for a dtype class)
  std::string_view detail; // the opcode, blocklisted module, spelling compared, dtype code or
                           // the error resolving a missing global raises
};

// A class the saving script defined in its own `__main__`: the loader's `__main__` is another
// program, so a full unpickler raises AttributeError on it (measured on 1.7 and 1.13; 2.6 and
// 2.14 refuse it under weights_only) and no allowlist can name it there. The env's answer when it
// was asked (the resolver looks it up in an empty `__main__`); this rule when it was not (measured
// facts).
bool from_savers_main(const ScannedGlobal& global) {
  return global.module == "__main__" || global.module.starts_with("__main__.");
}

constexpr std::string_view kSaversMain =
    "defined in the saving script's __main__, which is not the loader's: define the class in an "
    "importable module (and save again), or load in a script that defines it";

int numpy_major(const Fingerprint& env) {
  return env.numpy ? std::atoi(env.numpy->c_str()) : 0;
}

std::string sentence(const Refused& refused, const FileScan& scan, const Fingerprint& env) {
  switch (refused.why) {
  case Why::opcode_not_implemented:
    return fmt::format("opcode {} (pickle protocol {}) is not implemented by this version's "
                       "weights-only unpickler",
                       refused.detail, scan.protocol);
  case Why::module_blocklisted:
    return fmt::format("module {} is blocklisted: no allowlist admits {}", refused.detail,
                       refused.name);
  case Why::never_allowlist:
    return fmt::format("{} can run code or reach the system: never allowlist it", refused.name);
  case Why::python2_spelling:
    return fmt::format("{} is written {}, and this version compares that Python 2 spelling, "
                       "which no allowlist entry of the object matches",
                       refused.name, refused.detail);
  case Why::numpy2_module:
    return fmt::format("{} is numpy 2's; numpy {} has no numpy._core to allowlist it from",
                       refused.name, *env.numpy);
  case Why::not_allowlisted:
    return fmt::format("{} is not allowlisted", refused.name);
  case Why::newobj_type_check:
    return fmt::format("NEWOBJ of {}: this version constructs only Parameter, allowlisted or not",
                       refused.name);
  case Why::build_type_check:
    return fmt::format("BUILD of {}: this version builds only Tensor, Parameter and "
                       "OrderedDict, allowlisted or not",
                       refused.name);
  case Why::setitems_type_check:
    return fmt::format("SETITEMS into {}: this version fills only dict, OrderedDict and "
                       "Counter, even when the type is allowlisted",
                       refused.name);
  case Why::appends_type_check:
    return fmt::format("APPENDS into {}: this version appends only to list, even when the type "
                       "is allowlisted",
                       refused.name);
  case Why::own_refusal:
    return fmt::format("{}: this version refuses it in its own words: {}", refused.name,
                       refused.detail);
  case Why::missing_in_env:
    return fmt::format("{} does not exist in this env ({}): no allowlist can name it", refused.name,
                       refused.detail);
  case Why::foreign_persistent_id:
    return fmt::format("a persistent id of kind {} (the legacy format's record of a whole "
                       "module's class and source): the weights-only unpickler reads only "
                       "storages' (\"Only persistent_load of storage is allowed\")",
                       refused.detail);
  case Why::numpy2_dtype_class:
    return fmt::format("BUILD of a {} dtype: numpy 2 makes it a {}, which is not allowlisted",
                       refused.detail, refused.name);
  }
  return {};
}

// numpy 2's class for a dtype's type code as pickled ("<f4" or "f4"), or "" when it has none.
std::string_view numpy_dtype_class(std::string_view code) {
  static const std::map<std::string_view, std::string_view> classes = {
      {"b1", "numpy.dtypes.BoolDType"},        {"i1", "numpy.dtypes.Int8DType"},
      {"u1", "numpy.dtypes.UInt8DType"},       {"i2", "numpy.dtypes.Int16DType"},
      {"u2", "numpy.dtypes.UInt16DType"},      {"i4", "numpy.dtypes.Int32DType"},
      {"u4", "numpy.dtypes.UInt32DType"},      {"i8", "numpy.dtypes.Int64DType"},
      {"u8", "numpy.dtypes.UInt64DType"},      {"f2", "numpy.dtypes.Float16DType"},
      {"f4", "numpy.dtypes.Float32DType"},     {"f8", "numpy.dtypes.Float64DType"},
      {"f16", "numpy.dtypes.LongDoubleDType"}, {"c8", "numpy.dtypes.Complex64DType"},
      {"c16", "numpy.dtypes.Complex128DType"}, {"c32", "numpy.dtypes.CLongDoubleDType"},
      {"O8", "numpy.dtypes.ObjectDType"},      {"M8", "numpy.dtypes.DateTime64DType"},
      {"m8", "numpy.dtypes.TimeDelta64DType"}, {"U", "numpy.dtypes.StrDType"},
      {"S", "numpy.dtypes.BytesDType"},        {"V", "numpy.dtypes.VoidDType"}};
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
    code.remove_prefix(1);
  }
  if (auto it = classes.find(code); it != classes.end()) {
    return it->second;
  }
  if (!code.empty() && (code[0] == 'U' || code[0] == 'S' || code[0] == 'V')) {
    return classes.at(code.substr(0, 1));
  }
  return {};
}

// The type checks that apply to objects the pickle makes and fills: each version constructs
// and fills allowlisted classes differently (measured by fingerprint.py).
void rule_refusals(const ScannedGlobal& global, const UnpicklerRules& rules, bool allowlisted,
                   std::vector<Refused>& out) {
  const std::string& name = global.name;
  auto refuse = [&](UseKind use, Why why) {
    if (auto it = global.uses.find(use); it != global.uses.end()) {
      out.push_back({it->second, BlockReason::build_not_allowed, {}, true, why, name, {}});
    }
  };
  if (name != "torch.nn.parameter.Parameter" && !allowlisted && !rules.newobj_allowlisted_class) {
    refuse(UseKind::newobj, Why::newobj_type_check);
  }
  if (!allowlisted && !rules.build_allowlisted_class) {
    refuse(UseKind::build, Why::build_type_check);
  }
  if (name != "collections.OrderedDict" && name != "collections.Counter" &&
      !rules.setitems_allowlisted_dict_subclass) {
    refuse(UseKind::setitem, Why::setitems_type_check);
  }
  if (!(allowlisted && name == "builtins.list") && !rules.append_allowlisted_list_subclass) {
    refuse(UseKind::append, Why::appends_type_check);
  }
}

// A global that is not allowlisted: allowlisting it goes on, unless no allowlist can admit it.
Refused global_refusal(const ScannedGlobal& global, const std::string& compared,
                       const Fingerprint& env) {
  Refused refused{global.first,
                  BlockReason::global_not_allowed,
                  global.name,
                  true,
                  Why::not_allowlisted,
                  global.name,
                  {}};
  if (global.dangerous || global.name.starts_with("copyreg.extension_registry[")) {
    refused.why = Why::never_allowlist;
  } else if (compared != global.name) {
    refused.why = Why::python2_spelling;
    refused.detail = compared;
  } else if (numpy_major(env) == 1 && global.module.starts_with("numpy._core")) {
    refused.why = Why::numpy2_module;
  } else {
    refused.stops = false;
  }
  return refused;
}

// A measured weights-only refusal that is not the unpickler's usual "not allowlisted" or
// "module blocked" one: its sentence (after the flip's paragraph torch 2.6+ prints first),
// else "".
std::string_view own_refusal(std::string_view refusal) {
  for (std::string_view usual : {"Unsupported global", "Unsupported class", "is blocked",
                                 "unsupported GLOBAL", "Unsupported operand"}) {
    if (refusal.find(usual) != std::string_view::npos) {
      return {};
    }
  }
  if (auto at = refusal.find("Weights only load failed. "); at != std::string_view::npos) {
    refusal.remove_prefix(at + std::string_view("Weights only load failed. ").size());
  }
  return refusal.substr(0, refusal.find('\n'));
}

std::vector<Refused> weights_only_refusals(const FileScan& scan, const EnvLoadRules& indexed) {
  const Fingerprint& env = *indexed.env;
  const UnpicklerRules& rules = *env.rules;
  std::vector<Refused> refused;
  for (const auto& [opcode, at] : scan.opcodes) {
    if (!indexed.implemented[opcode]) {
      refused.push_back({at,
                         BlockReason::unsupported_opcode,
                         {},
                         true,
                         Why::opcode_not_implemented,
                         {},
                         pickle_opcode_name(opcode)});
    }
  }
  for (const auto& global : scan.globals) {
    // Versions that do not map Python 2 names compare the name as written.
    const std::string& compared = rules.maps_python2_names ? global.name : global.raw_name;
    std::string_view module = rules.maps_python2_names
                                  ? std::string_view(global.module)
                                  : std::string_view(compared).substr(0, compared.rfind('.'));
    bool allowlisted = indexed.allowlist.contains(compared);
    const GlobalResolution* resolution =
        indexed.resolved ? indexed.resolved->find(global_lookup(scan, global)) : nullptr;
    if (resolution && !resolution->weights_only.empty() && !global.dangerous) {
      // Measured in the env: what importing torch registers counts as allowlisted, and a
      // refusal in torch's own words (not "not allowlisted") stops the load there.
      if (resolution->weights_only == "allowed") {
        allowlisted = true;
      } else if (std::string_view why = own_refusal(resolution->weights_only); !why.empty()) {
        refused.push_back(
            {global.first, BlockReason::other, {}, true, Why::own_refusal, global.name, why});
        continue;
      }
    }
    if (!allowlisted && resolution && !resolution->present && !global.dangerous) {
      refused.push_back({global.first, BlockReason::global_not_allowed, global.name, true,
                         Why::missing_in_env, global.name,
                         from_savers_main(global) ? kSaversMain : resolution->error});
      continue;
    }
    if (!allowlisted && !resolution && from_savers_main(global)) {
      refused.push_back({global.first, BlockReason::global_not_allowed, global.name, true,
                         Why::missing_in_env, global.name, kSaversMain});
      continue;
    }
    if (indexed.blocklisted_modules.contains(module)) {
      refused.push_back({global.first, BlockReason::module_blocklisted, global.name, true,
                         Why::module_blocklisted, global.name, module});
      continue;
    }
    if (!allowlisted) {
      refused.push_back(global_refusal(global, compared, env));
    }
    rule_refusals(global, rules, allowlisted, refused);
  }
  if (!scan.foreign_persistent_id.empty()) {
    refused.push_back({scan.foreign_persistent_at,
                       BlockReason::other,
                       {},
                       true,
                       Why::foreign_persistent_id,
                       {},
                       scan.foreign_persistent_id});
  }
  if (numpy_major(env) >= 2 && rules.build_allowlisted_class) {
    for (const auto& [code, at] : scan.numpy_dtype_builds) {
      std::string_view type = numpy_dtype_class(code);
      if (!type.empty() && !indexed.allowlist.contains(type)) {
        refused.push_back({at, BlockReason::global_not_allowed, type, false,
                           Why::numpy2_dtype_class, type, code});
      }
    }
  }
  std::stable_sort(refused.begin(), refused.end(),
                   [](const Refused& a, const Refused& b) { return a.at < b.at; });
  return refused;
}

// A sparse tensor this env's _rebuild_sparse_tensor cannot take (measured): the load raises
// where the stream calls it.
struct SparseRejection {
  StreamPosition at = 0;
  const SparseRebuild* rebuild = nullptr;
  const GlobalResolution* answer = nullptr;
};

std::optional<SparseRejection> rejected_sparse(const FileScan& scan, const EnvLoadRules& indexed) {
  if (!indexed.resolved) {
    return std::nullopt;
  }
  for (const auto& rebuild : scan.sparse_rebuilds) {
    const GlobalResolution* answer =
        indexed.resolved->find(SparseLookup{rebuild.layout, rebuild.fields});
    if (answer && !answer->present) {
      return SparseRejection{rebuild.offset, &rebuild, answer};
    }
  }
  return std::nullopt;
}

LoadPrediction sparse_error(const SparseRejection& rejection, LoadPrediction prediction) {
  prediction.outcome = Outcome::error;
  prediction.detail = fmt::format(
      "its {} tensor's data has {} fields, which this torch's _rebuild_sparse_tensor cannot "
      "take: {}",
      rejection.rebuild->layout, rejection.rebuild->fields, rejection.answer->error);
  prediction.no_fix = "a sparse tensor in a newer torch's format: this torch cannot rebuild it "
                      "(save it dense, or from the oldest torch that reads it)";
  return prediction;
}

// What torch.jit.load, which torch.load hands a TorchScript archive, does with it here, when
// the env was asked (probes/global_resolution.h, ArchiveImport).
LoadPrediction archive_prediction(const FileScan& scan, const EnvLoadRules& indexed) {
  LoadPrediction prediction;
  prediction.detail = "torch.load hands TorchScript archives to torch.jit.load";
  const ArchiveImport* import =
      indexed.resolved ? indexed.resolved->find(scan.input.file) : nullptr;
  if (import && import->whole) {
    prediction.detail += " (asked with the whole archive: its skeleton did not import here)";
  }
  if (!import || import->result == ArchiveImport::Result::pass) {
    return prediction;
  }
  if (!import->whole) {
    // Its skeleton did not import, and the archive was too large to ask about whole: the
    // emptied storages may be why (scan_job.cpp, kWholeArchiveBytes).
    prediction.outcome = Outcome::skipped;
    prediction.detail = fmt::format(
        "not predicted: the archive without its tensor data does not import here ({}), and it "
        "was not asked about whole (over the size budget, or asking failed: the scan's log "
        "says which)",
        import->error);
    return prediction;
  }
  bool crash = import->result == ArchiveImport::Result::crash;
  prediction.outcome = crash ? Outcome::crash : Outcome::error;
  prediction.detail = fmt::format("this torch's torch.jit.load cannot read the archive ({}): {}",
                                  crash ? "the process dies" : "it raises", import->error);
  prediction.no_fix = "TorchScript this torch does not read: export it again with this torch, "
                      "or load it with the torch that wrote it";
  return prediction;
}

// torch.load of an archive in torch 1.0-1.2's TorchScript layout: it has no data.pkl to
// unpickle and no constants.pkl to hand it to torch.jit.load, and what each torch says of that
// (RuntimeError on 1.7 to 2.14, 1.13's weights_only wrapping it as a refusal) is the env's
// answer, classified as the observed load is.
LoadPrediction legacy_archive_prediction(const FileScan& scan, const EnvLoadRules& indexed,
                                         ScanMode mode) {
  LoadPrediction prediction;
  const ArchiveImport* import =
      indexed.resolved ? indexed.resolved->find(scan.input.file) : nullptr;
  const Json* load = nullptr;
  if (import) {
    if (auto it = import->loads.find(scan_mode_id(mode)); it != import->loads.end()) {
      load = &it->second;
    }
  }
  if (!load) {
    prediction.outcome = Outcome::skipped;
    prediction.detail = "not predicted: a TorchScript archive in torch 1.0-1.2's layout "
                        "(model.json, no data.pkl), which only an env that runs here is asked "
                        "about";
    return prediction;
  }
  Classification measured = classify(*load, nullptr);
  prediction.outcome = measured.outcome;
  prediction.reason = measured.refusal.reason;
  prediction.blocked_globals = measured.refusal.globals;
  prediction.detail = fmt::format(
      "a TorchScript archive in torch 1.0-1.2's layout (model.json, no data.pkl), which torch.load "
      "does not hand to torch.jit.load; this torch's torch.load, asked: {}",
      measured.outcome == Outcome::pass
          ? std::string("it loads")
          : fmt::format("{}: {}",
                        measured.error_type.empty() ? outcome_id(measured.outcome)
                                                    : measured.error_type,
                        measured.message.substr(0, measured.message.find('\n'))));
  prediction.no_fix =
      import->result == ArchiveImport::Result::pass
          ? "TorchScript in torch 1.0-1.2's layout: this torch's torch.jit.load reads it "
            "(measured); load it with torch.jit.load and save it again with torch.jit.save"
          : fmt::format("TorchScript in torch 1.0-1.2's layout, which this torch's torch.jit.load "
                        "does not read either ({}): load it with torch.jit.load in a torch that "
                        "does and save it again with torch.jit.save",
                        import->error.substr(0, import->error.find('\n')));
  if (prediction.outcome != Outcome::pass) {
    prediction.detail += "; " + prediction.no_fix;
  }
  return prediction;
}

LoadPrediction weights_only_prediction(const FileScan& scan, const EnvLoadRules& indexed) {
  const Fingerprint& env = *indexed.env;
  LoadPrediction prediction;
  const UnpicklerRules& rules = *env.rules;
  if (scan.is_torchscript()) {
    if (rules.torchscript_loads) {
      return archive_prediction(scan, indexed);
    } else {
      prediction.outcome = Outcome::error;
      prediction.detail = "torch.load refuses TorchScript archives under weights_only (" +
                          rules.torchscript_refusal + "); load it with torch.jit.load";
      prediction.no_fix = "a TorchScript archive: torch.jit.load reads it";
    }
    return prediction;
  }
  std::vector<Refused> refused = weights_only_refusals(scan, indexed);
  // A sparse tensor's rebuild is reached, and raises, when no refusal comes before it.
  if (auto rejection = rejected_sparse(scan, indexed);
      rejection && (refused.empty() || rejection->at < refused.front().at)) {
    return sparse_error(*rejection, std::move(prediction));
  }
  if (refused.empty()) {
    if (scan.format == CheckpointFormat::raw_pickle) {
      prediction.outcome = Outcome::error;
      prediction.detail = "a plain pickle, not a torch.save file: torch.load reads it as the "
                          "legacy format and stops at its magic number";
      prediction.no_fix = "not written by torch.save";
    }
    return prediction;
  }
  prediction.outcome = Outcome::blocked;
  prediction.reason = refused.front().reason;
  prediction.detail = sentence(refused.front(), scan, env);
  bool stopped = false;
  for (const auto& refusal : refused) {
    if (!refusal.global.empty() &&
        std::find(prediction.blocked_globals.begin(), prediction.blocked_globals.end(),
                  refusal.global) == prediction.blocked_globals.end()) {
      prediction.blocked_globals.emplace_back(refusal.global);
    }
    if (refusal.stops) {
      stopped = true;
      prediction.no_fix =
          &refusal == &refused.front() ? prediction.detail : sentence(refusal, scan, env);
      break;
    }
  }
  if (!stopped && !env.has_add_safe_globals) {
    prediction.no_fix = "this version has no torch.serialization.add_safe_globals";
  }
  prediction.fixable = !stopped && env.has_add_safe_globals;
  if (prediction.fixable) {
    prediction.fix_allowlist = prediction.blocked_globals;
  }
  return prediction;
}

LoadPrediction full_unpickler_prediction(const FileScan& scan, const EnvLoadRules& indexed) {
  const Fingerprint& env = *indexed.env;
  if (scan.is_torchscript()) {
    return archive_prediction(scan, indexed);
  }
  LoadPrediction prediction;
  prediction.runs_code = true;
  prediction.detail = "the full unpickler: it imports and calls whatever the pickle names";
  // The unpickler resolves each global where the stream meets it: the first one this env
  // lacks ends the load, unless a sparse tensor it cannot rebuild comes first. A global the
  // env was not asked about falls back to the one rule known without asking: numpy 1 has no
  // numpy._core.
  std::optional<SparseRejection> rejection = rejected_sparse(scan, indexed);
  for (const auto& global : scan.globals) {
    if (rejection && rejection->at < global.first) {
      break;
    }
    const GlobalResolution* resolution =
        indexed.resolved ? indexed.resolved->find(global_lookup(scan, global)) : nullptr;
    if ((resolution && !resolution->present) || (!resolution && from_savers_main(global))) {
      prediction.outcome = Outcome::error;
      prediction.missing_global = global.name;
      prediction.detail = fmt::format(
          "{} does not exist in this env: {}", global.name,
          resolution ? resolution->error
                     : fmt::format("AttributeError: Can't get attribute '{}' on <module "
                                   "'__main__'> (not asked: the rule for a saving script's class)",
                                   global_lookup(scan, global).qualname));
      if (from_savers_main(global)) {
        prediction.no_fix = fmt::format("{} is {}", global.name, kSaversMain);
      }
      return prediction;
    }
    if (!resolution && numpy_major(env) == 1 && global.module.starts_with("numpy._core")) {
      prediction.outcome = Outcome::error;
      prediction.missing_global = global.name;
      prediction.detail = fmt::format("{} is numpy 2's module; numpy {} has no numpy._core",
                                      global.name, *env.numpy);
      return prediction;
    }
  }
  if (rejection) {
    return sparse_error(*rejection, std::move(prediction));
  }
  if (scan.format == CheckpointFormat::raw_pickle) {
    prediction.outcome = Outcome::error;
    prediction.detail = "a plain pickle, not a torch.save file: torch.load unpickles it (running "
                        "whatever it names) and then stops at its magic number";
  }
  return prediction;
}

} // namespace

GlobalLookup global_lookup(const FileScan& scan, const ScannedGlobal& global) {
  GlobalLookup lookup;
  lookup.module = global.module;
  lookup.qualname = global.name.size() > global.module.size()
                        ? global.name.substr(global.module.size() + 1)
                        : std::string();
  lookup.zip = scan.format == CheckpointFormat::torch_zip;
  lookup.protocol = scan.protocol;
  return lookup;
}

EnvLoadRules::EnvLoadRules(const Fingerprint& fingerprint) : env(&fingerprint) {
  if (fingerprint.rules) {
    for (int opcode = 0; opcode < 256; ++opcode) {
      std::string_view name = pickle_opcode_name(static_cast<uint8_t>(opcode));
      // Most bytes are no opcode, and no unpickler implements one.
      implemented[static_cast<size_t>(opcode)] =
          name != "UNKNOWN" && fingerprint.rules->opcodes.contains(name);
    }
  }
  if (fingerprint.allowlist) {
    allowlist.reserve(fingerprint.allowlist->size());
    allowlist.insert(fingerprint.allowlist->begin(), fingerprint.allowlist->end());
  }
  blocklisted_modules.insert(fingerprint.blocklisted_modules.begin(),
                             fingerprint.blocklisted_modules.end());
}

LoadPrediction predict_load(const FileScan& scan, const Fingerprint& env, ScanMode mode) {
  return predict_load(scan, EnvLoadRules(env), mode);
}

LoadPrediction predict_load(const FileScan& scan, const EnvLoadRules& indexed, ScanMode mode) {
  const Fingerprint& env = *indexed.env;
  bool weights_only = mode == ScanMode::weights_only || env.weights_only_default.value_or(false);
  if (mode == ScanMode::weights_only && !env.has_weights_only) {
    LoadPrediction prediction;
    prediction.outcome = Outcome::unsupported;
    prediction.detail = "torch.load has no weights_only argument";
    return prediction;
  }
  if (scan.format == CheckpointFormat::torchscript_legacy) {
    return legacy_archive_prediction(scan, indexed, mode);
  }
  if (!weights_only) {
    return full_unpickler_prediction(scan, indexed);
  }
  if (!env.rules || !env.allowlist) {
    LoadPrediction prediction;
    prediction.outcome = Outcome::unsupported;
    prediction.detail = "the env's weights-only rules were not measured";
    return prediction;
  }
  return weights_only_prediction(scan, indexed);
}

} // namespace loadmatrix
