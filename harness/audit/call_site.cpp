#include "audit/call_site.h"

#include "util/utf8.h"

#include <fmt/core.h>

namespace loadmatrix {

const char* written_weights_only_name(WrittenWeightsOnly value) {
  switch (value) {
  case WrittenWeightsOnly::omitted:
    return "omitted";
  case WrittenWeightsOnly::true_:
    return "true";
  case WrittenWeightsOnly::false_:
    return "false";
  case WrittenWeightsOnly::none:
    return "none";
  case WrittenWeightsOnly::dynamic:
    return "dynamic";
  }
  return "dynamic";
}

const char* argument_use_name(ArgumentUse use) {
  switch (use) {
  case ArgumentUse::omitted:
    return "omitted";
  case ArgumentUse::passed:
    return "passed";
  case ArgumentUse::dynamic:
    return "dynamic";
  }
  return "dynamic";
}

namespace {

// The finder runs inside an env: its output is read as foreign input, every field checked.
Expected<std::string> text(const Json& call, const char* field) {
  auto it = call.find(field);
  if (it == call.end() || !it->is_string()) {
    return Error{fmt::format("{}: expected a string", field)};
  }
  return valid_utf8(it->get<std::string>());
}

Expected<int64_t> number(const Json& call, const char* field) {
  auto it = call.find(field);
  if (it == call.end() || !it->is_number_integer()) {
    return Error{fmt::format("{}: expected an integer", field)};
  }
  return it->get<int64_t>();
}

template <typename Enum, size_t N>
Expected<Enum> one_of(const Json& call, const char* field, const char* (*name)(Enum),
                      const Enum (&values)[N]) {
  auto written = text(call, field);
  if (!written) {
    return written.error();
  }
  for (Enum value : values) {
    if (*written == name(value)) {
      return value;
    }
  }
  return Error{fmt::format("{}: unknown value {:?}", field, *written)};
}

} // namespace

Expected<CallSite> CallSite::from_json(const Json& call, size_t file) {
  if (!call.is_object()) {
    return Error{"a call: expected an object"};
  }
  static const WrittenWeightsOnly kWritten[] = {
      WrittenWeightsOnly::omitted, WrittenWeightsOnly::true_, WrittenWeightsOnly::false_,
      WrittenWeightsOnly::none, WrittenWeightsOnly::dynamic};
  static const ArgumentUse kUses[] = {ArgumentUse::omitted, ArgumentUse::passed,
                                      ArgumentUse::dynamic};
  CallSite site;
  site.file = file;
  auto line = number(call, "line");
  if (!line) {
    return line.error();
  }
  auto column = number(call, "column");
  if (!column) {
    return column.error();
  }
  auto function = text(call, "function");
  if (!function) {
    return function.error();
  }
  auto callee = text(call, "callee");
  if (!callee) {
    return callee.error();
  }
  auto weights_only = one_of(call, "weights_only", written_weights_only_name, kWritten);
  if (!weights_only) {
    return weights_only.error();
  }
  auto pickle_module = one_of(call, "pickle_module", argument_use_name, kUses);
  if (!pickle_module) {
    return pickle_module.error();
  }
  auto mmap = one_of(call, "mmap", argument_use_name, kUses);
  if (!mmap) {
    return mmap.error();
  }
  site.line = *line;
  site.column = *column;
  auto end_line = number(call, "end_line");
  site.end_line = end_line ? *end_line : site.line;
  site.function = std::move(*function);
  site.callee = std::move(*callee);
  site.weights_only = *weights_only;
  site.pickle_module = *pickle_module;
  site.mmap = *mmap;
  if (auto it = call.find("safe_globals"); it != call.end() && it->is_object()) {
    site.in_safe_globals = true;
    if (auto names = it->find("names"); names != it->end() && names->is_array()) {
      site.safe_globals.emplace();
      for (const auto& name : *names) {
        if (name.is_string()) {
          site.safe_globals->push_back(valid_utf8(name.get<std::string>()));
        }
      }
    }
  }
  if (auto it = call.find("fallback"); it != call.end() && it->is_object()) {
    auto kind = text(*it, "kind");
    auto attempt_line = number(*it, "attempt_line");
    site.fallback = Fallback{kind ? *kind : "except", attempt_line ? *attempt_line : 0};
  }
  if (auto it = call.find("code"); it != call.end() && it->is_string()) {
    site.code = valid_utf8(it->get<std::string>());
  }
  return site;
}

} // namespace loadmatrix
