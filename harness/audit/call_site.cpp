#include "audit/call_site.h"

#include "util/utf8.h"

#include <algorithm>
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

// A byte offset: a non-negative integer (a JSON parser may read one as signed).
bool offset(const Json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
}

// [begin, end] of `code`'s bytes, at or after `from`, or null (nullopt) where allowed.
Expected<std::optional<CodeSpan>> span(const Json& parent, const char* key,
                                       const std::string& field, size_t from, size_t size,
                                       bool nullable) {
  auto it = parent.find(key);
  if (nullable && (it == parent.end() || it->is_null())) {
    return std::optional<CodeSpan>{};
  }
  if (it == parent.end() || !it->is_array() || it->size() != 2 || !offset((*it)[0]) ||
      !offset((*it)[1])) {
    return Error{fmt::format("{}: expected [begin, end] byte offsets", field)};
  }
  CodeSpan out{(*it)[0].get<size_t>(), (*it)[1].get<size_t>()};
  if (out.begin < from || out.end < out.begin || out.end > size) {
    return Error{fmt::format("{}: [{}, {}] is not within bytes [{}, {}] of the code", field,
                             out.begin, out.end, from, size)};
  }
  return std::optional<CodeSpan>{out};
}

Expected<KeywordSpan> keyword_span(const Json& keyword, const std::string& field,
                                   const std::string& code, size_t from) {
  if (!keyword.is_object()) {
    return Error{fmt::format("{}: expected an object", field)};
  }
  auto name = text(keyword, "name");
  if (!name) {
    return Error{fmt::format("{}.{}", field, name.error().message)};
  }
  auto whole = span(keyword, "span", field + ".span", from, code.size(), false);
  if (!whole) {
    return whole.error();
  }
  if (code.compare((*whole)->begin, name->size(), *name) != 0) {
    return Error{fmt::format("{}.span: does not start with the name {:?}", field, *name)};
  }
  auto value = span(keyword, "value", field + ".value", (*whole)->begin + name->size(),
                    (*whole)->end, false);
  if (!value) {
    return value.error();
  }
  return KeywordSpan{std::move(*name), **whole, **value};
}

// The finder's "spans", checked against `code`: each part within it, in source order.
Expected<CallSpans> call_spans(const Json& call, const std::string& code) {
  CallSpans out;
  auto it = call.find("spans");
  if (it == call.end() || it->is_null()) {
    return out;
  }
  if (!it->is_object()) {
    return Error{"spans: expected an object"};
  }
  auto callee = span(*it, "callee", "spans.callee", 0, code.size(), true);
  if (!callee) {
    return callee.error();
  }
  out.callee = *callee;
  size_t from = out.callee ? out.callee->end : 0;
  auto keywords = it->find("keywords");
  if (keywords != it->end() && !keywords->is_array()) {
    return Error{"spans.keywords: expected an array"};
  }
  for (size_t i = 0; keywords != it->end() && i < keywords->size(); ++i) {
    auto keyword = keyword_span((*keywords)[i], fmt::format("spans.keywords[{}]", i), code, from);
    if (!keyword) {
      return keyword.error();
    }
    from = keyword->span.end;
    out.keywords.push_back(std::move(*keyword));
  }
  if (auto paren = it->find("close_paren"); paren != it->end() && !paren->is_null()) {
    if (!offset(*paren) || code.empty() || paren->get<size_t>() != code.size() - 1 ||
        code.back() != ')' || paren->get<size_t>() < from) {
      return Error{"spans.close_paren: expected the offset of the code's closing \")\""};
    }
    out.close_paren = paren->get<size_t>();
  }
  auto comma =
      span(*it, "trailing_comma", "spans.trailing_comma", from, out.close_paren.value_or(0), true);
  if (!comma) {
    return comma.error();
  }
  out.trailing_comma = *comma;
  return out;
}

} // namespace

const KeywordSpan* CallSpans::keyword(std::string_view name) const {
  for (const auto& keyword : keywords) {
    if (keyword.name == name) {
      return &keyword;
    }
  }
  return nullptr;
}

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
    auto path = text(*it, "path");
    site.fallback = Fallback{kind ? *kind : "except", attempt_line ? *attempt_line : 0,
                             path ? std::filesystem::path(*path) : std::filesystem::path()};
  }
  if (auto it = call.find("via"); it != call.end() && it->is_string()) {
    site.via = valid_utf8(it->get<std::string>());
  }
  if (auto it = call.find("weights_only_keyword"); it != call.end()) {
    site.weights_only_keyword = it->is_string() ? valid_utf8(it->get<std::string>()) : "";
  }
  if (auto it = call.find("weights_only_bound"); it != call.end() && it->is_string()) {
    site.weights_only_bound = valid_utf8(it->get<std::string>());
  }
  if (call.contains("weights_only_left_out")) {
    auto left_out = one_of(call, "weights_only_left_out", written_weights_only_name, kWritten);
    if (!left_out) {
      return left_out.error();
    }
    site.weights_only_left_out = *left_out;
  }
  if (auto it = call.find("loads"); it != call.end() && it->is_number_integer()) {
    site.loads = std::max<int64_t>(1, it->get<int64_t>());
  }
  if (auto it = call.find("chain"); it != call.end() && !it->is_null()) {
    if (!it->is_array()) {
      return Error{"chain: expected an array"};
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& hop = (*it)[i];
      if (!hop.is_object()) {
        return Error{fmt::format("chain[{}]: expected an object", i)};
      }
      auto path = text(hop, "path");
      auto hop_line = number(hop, "line");
      if (!path || !hop_line) {
        return Error{
            fmt::format("chain[{}]: {}", i, (!path ? path.error() : hop_line.error()).message)};
      }
      auto hop_column = number(hop, "column");
      auto hop_function = text(hop, "function");
      auto hop_code = text(hop, "code");
      site.chain.push_back({*path, *hop_line, hop_column ? *hop_column : 1,
                            hop_function ? *hop_function : "", hop_code ? *hop_code : "", "", "",
                            ""});
    }
  }
  if (auto it = call.find("code"); it != call.end() && it->is_string()) {
    site.code = valid_utf8(it->get<std::string>());
  }
  auto spans = call_spans(call, site.code);
  if (!spans) {
    return spans.error();
  }
  site.spans = std::move(*spans);
  return site;
}

} // namespace loadmatrix
