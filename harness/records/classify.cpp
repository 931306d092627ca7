#include "records/classify.h"

#include "util/utf8.h"

#include <csignal>
#include <cstring>
#include <fmt/core.h>
#include <map>
#include <regex>
#include <unordered_set>

namespace loadmatrix {

std::string strip_ansi(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !(text[i] >= '@' && text[i] <= '~')) {
        ++i;
      }
      continue;
    }
    out.push_back(text[i]);
  }
  return out;
}

namespace {

// Python 3 builtins that pickles and 2.14's messages may name without their module.
std::string qualify(std::string name) {
  if (name.starts_with("__builtin__.")) {
    name = "builtins." + name.substr(12); // Python 2 spelling, mapped the way torch maps it
  }
  if (name.find('.') == std::string::npos) {
    name = "builtins." + name;
  }
  return name;
}

} // namespace

Refusal parse_refusal(std::string_view error_type, std::string_view raw_message) {
  Refusal refusal;
  std::string message = strip_ansi(raw_message);
  bool weights_only = message.find("Weights only load failed") != std::string::npos ||
                      message.find("WeightsUnpickler error") != std::string::npos;
  if (!weights_only || (error_type != "UnpicklingError" && error_type != "RuntimeError")) {
    return refusal;
  }
  refusal.weights_only = true;
  refusal.reason = BlockReason::other;
  // A persistent id that is not a storage's (a legacy whole-module save's "module" record):
  // 2.14 words it "but got <class 'str'>", which is no class of the file's.
  if (message.find("Only persistent_load of storage is allowed") != std::string::npos) {
    return refusal;
  }
  std::smatch match;
  static const std::regex blocklisted(
      R"(unsupported GLOBAL ([\w.]+) whose module ([\w.]+) is blocked)");
  static const std::regex not_allowed(R"(GLOBAL ([\w.]+) was not an allowed global)");
  static const std::regex unsupported_class(R"(Unsupported class ([\w.]+))");
  static const std::regex build(
      R"((?:but got|unsupported class|Unsupported type) <class '([\w.]+)'>)");
  static const std::regex opcode(R"(Unsupported operand (\d+)|Unsupported opcode)");
  if (std::regex_search(message, match, blocklisted)) {
    refusal.reason = BlockReason::module_blocklisted;
    refusal.globals.push_back(qualify(match[1]));
  } else if (std::regex_search(message, match, not_allowed) ||
             std::regex_search(message, match, unsupported_class)) {
    refusal.reason = BlockReason::global_not_allowed;
    refusal.globals.push_back(qualify(match[1]));
  } else if (std::regex_search(message, match, build)) {
    refusal.reason = BlockReason::build_not_allowed;
    refusal.globals.push_back(qualify(match[1]));
  } else if (std::regex_search(message, match, opcode)) {
    refusal.reason = BlockReason::unsupported_opcode;
  }
  return refusal;
}

bool is_dangerous_global(std::string_view name) {
  // Looked up, not compared one by one: this runs for every global of every scanned file
  // (bench/README.md).
  static const std::unordered_set<std::string_view> modules = {
      "os",      "posix",  "nt",      "subprocess", "sys",      "pickle",
      "_pickle", "shutil", "socket",  "importlib",  "runpy",    "pty",
      "code",    "ctypes", "marshal", "webbrowser", "commands", "multiprocessing",
      "signal",  "io",     "_io",     "operator"}; // operator.attrgetter/methodcaller reach any
                                                   // attribute or method
  // Loaders of other pickles: whatever those name runs too.
  static const std::unordered_set<std::string_view> callables = {"builtins.eval",
                                                                 "builtins.exec",
                                                                 "builtins.getattr",
                                                                 "builtins.setattr",
                                                                 "builtins.delattr",
                                                                 "builtins.__import__",
                                                                 "builtins.compile",
                                                                 "builtins.open",
                                                                 "builtins.globals",
                                                                 "builtins.locals",
                                                                 "builtins.vars",
                                                                 "builtins.input",
                                                                 "builtins.breakpoint",
                                                                 "builtins.exit",
                                                                 "builtins.quit",
                                                                 "torch.load",
                                                                 "torch.hub.load",
                                                                 "torch.serialization.load",
                                                                 "torch.serialization._load",
                                                                 "torch.serialization._legacy_load",
                                                                 "numpy.load",
                                                                 "numpy.lib.npyio.load",
                                                                 "numpy.lib._npyio_impl.load"};
  // Anything in a dangerous top-level module (os.path.join as much as os.system).
  size_t dot = name.find('.');
  return (dot != std::string_view::npos && modules.contains(name.substr(0, dot))) ||
         callables.contains(name);
}

std::string first_difference(const Json& expected, const Json& actual) {
  if (expected.type() != actual.type()) {
    return fmt::format(": expected {}, got {}", truncate_utf8(expected.dump(), 120),
                       truncate_utf8(actual.dump(), 120));
  }
  if (expected.is_object()) {
    for (const auto& [key, value] : expected.items()) {
      if (!actual.contains(key)) {
        return "." + key + ": missing";
      }
      if (value != actual.at(key)) {
        return "." + key + first_difference(value, actual.at(key));
      }
    }
    for (const auto& [key, value] : actual.items()) {
      if (!expected.contains(key)) {
        return "." + key + ": unexpected";
      }
    }
  } else if (expected.is_array()) {
    for (size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
      if (expected[i] != actual[i]) {
        return fmt::format("[{}]{}", i, first_difference(expected[i], actual[i]));
      }
    }
    if (expected.size() != actual.size()) {
      return fmt::format(": {} items, expected {}", actual.size(), expected.size());
    }
  }
  return fmt::format(": expected {}, got {}", truncate_utf8(expected.dump(), 120),
                     truncate_utf8(actual.dump(), 120));
}

namespace {

// The worker's description of a dict (runtime/worker.py, describe): {"dict": type, "items":
// [[repr(key), value], ...]} sorted by key and cut at kDescribedItems; an object's public
// attributes are described as such a dict.
constexpr size_t kDescribedItems = 64;

bool is_described_dict(const Json& value) {
  if (!value.is_object() || value.size() != 2 || !value.contains("dict") ||
      !value.contains("items") || !value.at("items").is_array()) {
    return false;
  }
  for (const auto& item : value.at("items")) {
    if (!item.is_array() || item.size() != 2 || !item[0].is_string()) {
      return false;
    }
  }
  return true;
}

// Whether `actual` holds every value of `expected` unchanged and differs only by dict keys (and
// object attributes) `expected` lacks, each appended to `added` as a path ("['scheduler']
// ['optimizer']['defaults']['foreach']"). This is a loading version's class adding fields in
// its __setstate__ (1.13's Optimizer adds differentiable, foreach and maximize to a 1.7
// optimizer's defaults and param groups): the file is intact. False when anything saved
// differs, is missing, or may have been cut off the description.
bool only_added(const Json& expected, const Json& actual, const std::string& path,
                std::vector<std::string>& added, bool in_object = false) {
  if (expected == actual) {
    return true;
  }
  if (expected.type() != actual.type()) {
    return false;
  }
  if (is_described_dict(expected) && is_described_dict(actual)) {
    const Json& had = expected.at("items");
    const Json& has = actual.at("items");
    if (expected.at("dict") != actual.at("dict") || had.size() >= kDescribedItems ||
        has.size() >= kDescribedItems) {
      return false;
    }
    std::map<std::string, const Json*> by_key;
    for (const auto& item : has) {
      if (!by_key.emplace(item[0].get<std::string>(), &item[1]).second) {
        return false; // two keys with one repr: not comparable by key
      }
    }
    for (const auto& item : had) {
      auto it = by_key.find(item[0].get<std::string>());
      if (it == by_key.end() ||
          !only_added(item[1], *it->second, path + "[" + it->first + "]", added, in_object)) {
        return false;
      }
      by_key.erase(it);
    }
    // Only what an object holds can have been added by its class's __setstate__: a plain
    // dict the file saved with fewer keys is a different dict.
    if (!by_key.empty() && !in_object) {
      return false;
    }
    for (const auto& [key, value] : by_key) {
      added.push_back(path + "[" + key + "]");
    }
    return true;
  }
  if (expected.is_object()) {
    if (expected.size() != actual.size()) {
      return false;
    }
    bool object = in_object || expected.contains("object");
    for (const auto& [key, value] : expected.items()) {
      if (!actual.contains(key) || !only_added(value, actual.at(key), path, added, object)) {
        return false;
      }
    }
    return true;
  }
  if (expected.is_array()) {
    if (expected.size() != actual.size() || expected.size() >= kDescribedItems) {
      return false;
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      if (!only_added(expected[i], actual[i], fmt::format("{}[{}]", path, i), added, in_object)) {
        return false;
      }
    }
    return true;
  }
  return false;
}

} // namespace

Classification classify(const Json& facts, const Json* expected) {
  Classification result;
  std::string status = facts.value("status", "");
  // What a worker or probe reports is text from outside (torch's messages quote the file's own
  // bytes): it leaves here as valid UTF-8, so no record, report or JSON file can hold less.
  result.error_type = printable_name(facts.value("error_type", ""));
  result.message = valid_utf8(truncate_utf8(strip_ansi(facts.value("message", "")), 4000));
  if (status == "returned") {
    const Json& description = facts.contains("description") ? facts.at("description") : Json();
    std::vector<std::string> added;
    if (expected != nullptr && *expected != description &&
        only_added(*expected, description, "", added) && !added.empty()) {
      // Not a broken file: what it saved is all there, and the loader's class has more.
      result.outcome = Outcome::pass;
      std::string fields;
      for (size_t i = 0; i < added.size() && i < 8; ++i) {
        fields += (i ? ", " : "") + added[i];
      }
      result.detail = fmt::format(
          "every saved value intact; the loading version's classes added {} field(s): {}{}",
          added.size(), fields, added.size() > 8 ? ", ..." : "");
    } else if (expected != nullptr && *expected != description) {
      result.outcome = Outcome::mismatch;
      result.detail = "content differs at $" + first_difference(*expected, description);
    } else {
      result.outcome = Outcome::pass;
    }
  } else if (status == "raised") {
    result.refusal = parse_refusal(result.error_type, facts.value("message", ""));
    result.outcome = result.refusal.weights_only ? Outcome::blocked : Outcome::error;
  } else if (status == "crashed") {
    result.outcome = Outcome::crash;
    if (facts.contains("signal")) {
      int signal = facts.at("signal").get<int>();
      result.detail = fmt::format("killed by signal {} ({})", signal, ::strsignal(signal));
    } else {
      result.detail =
          fmt::format("exited with status {} without a result", facts.value("exit_code", -1));
    }
  } else if (status == "timeout") {
    result.outcome = Outcome::timeout;
    result.detail = valid_utf8(facts.value("detail", "the load did not finish in time"));
  } else if (status == "skipped") {
    // A scenario whose REQUIRES names a library the env lacks.
    result.outcome = Outcome::skipped;
    result.detail = valid_utf8(truncate_utf8(facts.value("reason", ""), 300));
  } else if (status == "unsupported") {
    result.outcome = Outcome::unsupported;
    result.detail = valid_utf8(facts.value("reason", ""));
  } else {
    result.outcome = Outcome::error;
    result.detail =
        fmt::format("probe protocol error: {}",
                    truncate_utf8(facts.dump(-1, ' ', false, Json::error_handler_t::replace), 300));
  }
  return result;
}

} // namespace loadmatrix
