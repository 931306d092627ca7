// Loads one file the way C++ users do and prints one "@loadmatrix {json}" line:
//   cpp_probe pickle FILE   torch::pickle_load (a torch.save zip)
//   cpp_probe jit FILE      torch::jit::load (a TorchScript archive)
// Success carries a bounded description of what was loaded, for content checks; failure
// carries the exception's type and text. Exit status is 0 either way: a file that does not
// load is a result, not a probe failure.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <torch/script.h>
#include <torch/serialize.h>
#include <vector>

namespace {

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
        out += buffer;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  return out + "\"";
}

// A description of an IValue, bounded in depth and breadth so a huge object stays one line.
std::string describe(const c10::IValue& value, int depth) {
  if (depth > 6) {
    return "\"...\"";
  }
  if (value.isTensor()) {
    const auto& tensor = value.toTensor();
    std::ostringstream out;
    out << "{\"tensor\":{\"dtype\":" << quote(std::string(c10::toString(tensor.scalar_type())))
        << ",\"shape\":[";
    for (size_t i = 0; i < tensor.sizes().size(); ++i) {
      out << (i ? "," : "") << tensor.sizes()[i];
    }
    out << "]}}";
    return out.str();
  }
  if (value.isGenericDict()) {
    std::ostringstream out;
    out << "{\"dict\":{";
    size_t shown = 0;
    for (const auto& item : value.toGenericDict()) {
      if (shown == 64) {
        break;
      }
      std::string key = item.key().isString() ? item.key().toStringRef() : item.key().tagKind();
      out << (shown++ ? "," : "") << quote(key) << ":" << describe(item.value(), depth + 1);
    }
    out << "}}";
    return out.str();
  }
  if (value.isList() || value.isTuple()) {
    std::vector<c10::IValue> items;
    if (value.isList()) {
      for (const auto& item : value.toListRef()) {
        items.push_back(item);
      }
    } else {
      items = value.toTupleRef().elements().vec();
    }
    std::ostringstream out;
    out << "{" << quote(value.isList() ? "list" : "tuple") << ":[";
    for (size_t i = 0; i < items.size() && i < 64; ++i) {
      out << (i ? "," : "") << describe(items[i], depth + 1);
    }
    out << "]}";
    return out.str();
  }
  if (value.isInt()) {
    return std::to_string(value.toInt());
  }
  if (value.isDouble()) {
    std::ostringstream out;
    out << "{\"float\":" << quote(std::to_string(value.toDouble())) << "}";
    return out.str();
  }
  if (value.isBool()) {
    return value.toBool() ? "true" : "false";
  }
  if (value.isString()) {
    return quote(value.toStringRef());
  }
  if (value.isNone()) {
    return "null";
  }
  return "{\"other\":" + quote(value.tagKind()) + "}";
}

void report_failure(const char* error_type, const std::string& message) {
  std::printf("@loadmatrix {\"ok\":false,\"error_type\":%s,\"message\":%s}\n",
              quote(error_type).c_str(), quote(message).c_str());
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: cpp_probe pickle|jit FILE\n");
    return 64;
  }
  std::string mode = argv[1];
  std::string path = argv[2];
  try {
    if (mode == "pickle") {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        report_failure("io", "cannot open " + path);
        return 0;
      }
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      c10::IValue value = torch::pickle_load(bytes);
      std::printf("@loadmatrix {\"ok\":true,\"type\":%s,\"value\":%s}\n",
                  quote(value.tagKind()).c_str(), describe(value, 0).c_str());
    } else if (mode == "jit") {
      torch::jit::Module module = torch::jit::load(path);
      std::printf(
          "@loadmatrix {\"ok\":true,\"type\":\"Module\",\"value\":{\"module\":%s}}\n",
          quote(module.type()->name() ? module.type()->name()->qualifiedName() : "?").c_str());
    } else {
      std::fprintf(stderr, "cpp_probe: unknown mode %s\n", mode.c_str());
      return 64;
    }
  } catch (const c10::Error& e) {
    report_failure("c10::Error", e.what_without_backtrace());
  } catch (const std::exception& e) {
    report_failure("std::exception", e.what());
  }
  std::fflush(stdout);
  return 0;
}
