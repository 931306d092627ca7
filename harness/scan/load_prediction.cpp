#include "scan/load_prediction.h"

#include "pickle/pickle_analysis.h"
#include "util/text.h"

#include <algorithm>
#include <fmt/core.h>
#include <map>

namespace loadmatrix {

const char* scan_mode_id(ScanMode mode) {
  return mode == ScanMode::weights_only ? "weights_only" : "default";
}

namespace {

// One thing the weights-only unpickler refuses, at the stream position it meets it.
struct Refused {
  StreamPosition at = 0;
  BlockReason reason = BlockReason::none;
  std::string global; // empty for opcodes and type checks
  // Loading stops here whatever is allowlisted: no later refusal is ever reached, and no
  // allowlist is a fix. (A plain non-allowlisted global does not stop: allowlisting it goes on.)
  bool stops = false;
  std::string why;
};

int numpy_major(const Fingerprint& env) {
  return env.numpy ? std::atoi(env.numpy->c_str()) : 0;
}

// numpy 2's class for a dtype's type code as pickled ("<f4" or "f4").
std::string numpy_dtype_class(std::string code) {
  static const std::map<std::string, std::string> classes = {
      {"b1", "BoolDType"},         {"i1", "Int8DType"},      {"u1", "UInt8DType"},
      {"i2", "Int16DType"},        {"u2", "UInt16DType"},    {"i4", "Int32DType"},
      {"u4", "UInt32DType"},       {"i8", "Int64DType"},     {"u8", "UInt64DType"},
      {"f2", "Float16DType"},      {"f4", "Float32DType"},   {"f8", "Float64DType"},
      {"f16", "LongDoubleDType"},  {"c8", "Complex64DType"}, {"c16", "Complex128DType"},
      {"c32", "CLongDoubleDType"}, {"O8", "ObjectDType"},    {"M8", "DateTime64DType"},
      {"m8", "TimeDelta64DType"},  {"U", "StrDType"},        {"S", "BytesDType"},
      {"V", "VoidDType"}};
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
    code.erase(0, 1);
  }
  if (auto it = classes.find(code); it != classes.end()) {
    return "numpy.dtypes." + it->second;
  }
  if (!code.empty() && (code[0] == 'U' || code[0] == 'S' || code[0] == 'V')) {
    return "numpy.dtypes." + classes.at(code.substr(0, 1));
  }
  return {};
}

// The type checks that apply to objects the pickle makes and fills: each version constructs
// and fills allowlisted classes differently (measured by fingerprint.py).
void rule_refusals(const ScannedGlobal& global, const UnpicklerRules& rules, bool allowlisted,
                   std::vector<Refused>& out) {
  const std::string& name = global.name;
  auto refuse = [&](const char* use, std::string why) {
    out.push_back({global.uses.at(use), BlockReason::build_not_allowed, "", true, std::move(why)});
  };
  if (global.uses.contains("NEWOBJ") && name != "torch.nn.parameter.Parameter" && !allowlisted &&
      !rules.newobj_allowlisted_class) {
    refuse("NEWOBJ",
           fmt::format("NEWOBJ of {}: this version constructs only Parameter, allowlisted or not",
                       name));
  }
  if (global.uses.contains("BUILD") && !allowlisted && !rules.build_allowlisted_class) {
    refuse("BUILD", fmt::format("BUILD of {}: this version builds only Tensor, Parameter and "
                                "OrderedDict, allowlisted or not",
                                name));
  }
  if (global.uses.contains("SETITEM") && name != "collections.OrderedDict" &&
      name != "collections.Counter" && !rules.setitems_allowlisted_dict_subclass) {
    refuse("SETITEM", fmt::format("SETITEMS into {}: this version fills only dict, OrderedDict "
                                  "and Counter, even when the type is allowlisted",
                                  name));
  }
  if (global.uses.contains("APPEND") && !(allowlisted && name == "builtins.list") &&
      !rules.append_allowlisted_list_subclass) {
    refuse("APPEND", fmt::format("APPENDS into {}: this version appends only to list, even when "
                                 "the type is allowlisted",
                                 name));
  }
}

// A global that is not allowlisted: allowlisting it goes on, unless no allowlist can admit it.
Refused global_refusal(const ScannedGlobal& global, const std::string& compared,
                       const Fingerprint& env) {
  Refused refused{global.first, BlockReason::global_not_allowed, global.name, true, {}};
  if (global.dangerous || global.name.starts_with("copyreg.extension_registry[")) {
    refused.why =
        fmt::format("{} can run code or reach the system: never allowlist it", global.name);
  } else if (compared != global.name) {
    refused.why = fmt::format("{} is written {}, and this version compares that Python 2 "
                              "spelling, which no allowlist entry of the object matches",
                              global.name, compared);
  } else if (numpy_major(env) == 1 && global.module.starts_with("numpy._core")) {
    refused.why = fmt::format("{} is numpy 2's; numpy {} has no numpy._core to allowlist it from",
                              global.name, *env.numpy);
  } else {
    refused.stops = false;
    refused.why = fmt::format("{} is not allowlisted", global.name);
  }
  return refused;
}

std::vector<Refused> weights_only_refusals(const FileScan& scan, const EnvLoadRules& indexed) {
  const Fingerprint& env = *indexed.env;
  const UnpicklerRules& rules = *env.rules;
  std::vector<Refused> refused;
  for (const auto& [opcode, at] : scan.opcodes) {
    if (!indexed.implemented[opcode]) {
      refused.push_back({at, BlockReason::unsupported_opcode, "", true,
                         fmt::format("opcode {} (pickle protocol {}) is not implemented by this "
                                     "version's weights-only unpickler",
                                     pickle_opcode_name(opcode), scan.protocol)});
    }
  }
  for (const auto& global : scan.globals) {
    // Versions that do not map Python 2 names compare the name as written.
    const std::string& compared = rules.maps_python2_names ? global.name : global.raw_name;
    std::string module =
        rules.maps_python2_names ? global.module : compared.substr(0, compared.rfind('.'));
    bool allowlisted = indexed.allowlist.contains(compared);
    if (indexed.blocklisted_modules.contains(module)) {
      refused.push_back(
          {global.first, BlockReason::module_blocklisted, global.name, true,
           fmt::format("module {} is blocklisted: no allowlist admits {}", module, global.name)});
      continue;
    }
    if (!allowlisted) {
      refused.push_back(global_refusal(global, compared, env));
    }
    rule_refusals(global, rules, allowlisted, refused);
  }
  if (numpy_major(env) >= 2 && rules.build_allowlisted_class) {
    for (const auto& [code, at] : scan.numpy_dtype_builds) {
      std::string type = numpy_dtype_class(code);
      if (!type.empty() && !indexed.allowlist.contains(type)) {
        refused.push_back({at, BlockReason::global_not_allowed, type, false,
                           fmt::format("BUILD of a {} dtype: numpy 2 makes it a {}, which is not "
                                       "allowlisted",
                                       code, type)});
      }
    }
  }
  std::stable_sort(refused.begin(), refused.end(),
                   [](const Refused& a, const Refused& b) { return a.at < b.at; });
  return refused;
}

LoadPrediction weights_only_prediction(const FileScan& scan, const EnvLoadRules& indexed) {
  const Fingerprint& env = *indexed.env;
  LoadPrediction prediction;
  const UnpicklerRules& rules = *env.rules;
  if (scan.is_torchscript()) {
    if (rules.torchscript_loads) {
      prediction.detail = "torch.load hands TorchScript archives to torch.jit.load";
    } else {
      prediction.outcome = Outcome::error;
      prediction.detail = "torch.load refuses TorchScript archives under weights_only (" +
                          rules.torchscript_refusal + "); load it with torch.jit.load";
      prediction.no_fix = "a TorchScript archive: torch.jit.load reads it";
    }
    return prediction;
  }
  std::vector<Refused> refused = weights_only_refusals(scan, indexed);
  if (refused.empty()) {
    if (scan.format == "pickle") {
      prediction.outcome = Outcome::error;
      prediction.detail = "a plain pickle, not a torch.save file: torch.load reads it as the "
                          "legacy format and stops at its magic number";
      prediction.no_fix = "not written by torch.save";
    }
    return prediction;
  }
  prediction.outcome = Outcome::blocked;
  prediction.reason = refused.front().reason;
  prediction.detail = refused.front().why;
  bool stopped = false;
  for (const auto& refusal : refused) {
    if (!refusal.global.empty() && !contains(prediction.blocked_globals, refusal.global)) {
      prediction.blocked_globals.push_back(refusal.global);
    }
    if (refusal.stops) {
      stopped = true;
      prediction.no_fix = refusal.why;
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

LoadPrediction full_unpickler_prediction(const FileScan& scan, const Fingerprint& env) {
  LoadPrediction prediction;
  prediction.runs_code = true;
  prediction.detail = "the full unpickler: it imports and calls whatever the pickle names";
  if (numpy_major(env) == 1) {
    for (const auto& global : scan.globals) {
      if (global.module.starts_with("numpy._core")) {
        prediction.outcome = Outcome::error;
        prediction.detail = fmt::format("{} is numpy 2's module; numpy {} has no numpy._core",
                                        global.name, *env.numpy);
        return prediction;
      }
    }
  }
  if (scan.format == "pickle") {
    prediction.outcome = Outcome::error;
    prediction.detail = "a plain pickle, not a torch.save file: torch.load unpickles it (running "
                        "whatever it names) and then stops at its magic number";
  }
  return prediction;
}

} // namespace

EnvLoadRules::EnvLoadRules(const Fingerprint& fingerprint) : env(&fingerprint) {
  if (fingerprint.rules) {
    for (int opcode = 0; opcode < 256; ++opcode) {
      implemented[static_cast<size_t>(opcode)] = fingerprint.rules->opcodes.contains(
          std::string_view(pickle_opcode_name(static_cast<uint8_t>(opcode))));
    }
  }
  if (fingerprint.allowlist) {
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
  if (!weights_only) {
    return full_unpickler_prediction(scan, env);
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
