#include "envs/loader_facts.h"

#include <fmt/core.h>

namespace loadmatrix {

const char* load_effect_name(LoadEffect effect) {
  switch (effect) {
  case LoadEffect::weights_only:
    return "weights_only";
  case LoadEffect::full:
    return "full";
  case LoadEffect::error:
    return "error";
  }
  return "error";
}

std::string loader_form(std::string_view weights_only, bool pickle_module, bool mmap) {
  std::string form(weights_only);
  if (pickle_module) {
    form += "+pickle_module";
  }
  if (mmap) {
    form += "+mmap";
  }
  return form;
}

const MeasuredEffect* LoaderFacts::find(std::string_view variable, std::string_view loader,
                                        std::string_view form) const {
  auto by_loader = by_variable.find(variable);
  if (by_loader == by_variable.end()) {
    return nullptr;
  }
  auto forms = by_loader->second.find(std::string(loader));
  if (forms == by_loader->second.end()) {
    return nullptr;
  }
  auto effect = forms->second.find(std::string(form));
  return effect == forms->second.end() ? nullptr : &effect->second;
}

bool LoaderFacts::has_loader(std::string_view loader) const {
  auto plain = by_variable.find("");
  return plain != by_variable.end() && plain->second.contains(std::string(loader));
}

Expected<LoaderFacts> LoaderFacts::from_json(const Json& facts) {
  if (!facts.is_object()) {
    return Error{"loader_calls: expected an object"};
  }
  LoaderFacts parsed;
  for (const auto& [variable, loaders] : facts.items()) {
    if (!loaders.is_object() || loaders.contains("error")) {
      continue; // a variable the env could not measure: its calls are left unknown
    }
    auto& into = parsed.by_variable[variable];
    for (const auto& [loader, forms] : loaders.items()) {
      if (!forms.is_object()) {
        return Error{fmt::format("loader_calls.{}.{}: expected an object", variable, loader)};
      }
      for (const auto& [form, observed] : forms.items()) {
        if (!observed.is_string()) {
          return Error{
              fmt::format("loader_calls.{}.{}.{}: expected a string", variable, loader, form)};
        }
        const std::string& text = observed.get_ref<const std::string&>();
        MeasuredEffect effect;
        if (text == "weights_only") {
          effect.effect = LoadEffect::weights_only;
        } else if (text == "full") {
          effect.effect = LoadEffect::full;
        } else if (text.starts_with("error: ")) {
          effect.error = text.substr(7);
        } else {
          return Error{fmt::format("loader_calls.{}.{}.{}: unknown effect {:?}", variable, loader,
                                   form, text)};
        }
        into[loader][form] = std::move(effect);
      }
    }
  }
  return parsed;
}

} // namespace loadmatrix
