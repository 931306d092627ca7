// Loads files the way C++ users do and prints one "@loadmatrix {json}" line per file:
//   cpp_probe pickle [--timeout S] FILE...   torch::pickle_load (a torch.save zip)
//   cpp_probe jit [--timeout S] FILE...      torch::jit::load (a TorchScript archive)
// Success carries a bounded description of what was loaded, for content checks; failure
// carries the exception's type and text. Exit status is 0 either way: a file that does not
// load is a result, not a probe failure.
#include "utf8.h" // harness/util/utf8.h, mounted beside these sources when the probe is built

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <torch/script.h>
#include <torch/serialize.h>
#include <unistd.h>
#include <vector>

namespace {

// A JSON string of `text`, which libtorch may hand over with any bytes (its messages quote the
// file's own keys and names): invalid UTF-8 becomes the visible text \xNN, as the driver shows
// it everywhere (util/utf8.h), so the line is always valid JSON.
std::string quote(const std::string& text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    size_t length = loadmatrix::utf8_sequence_length(text, i);
    if (length == 0) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\\\x%02x", static_cast<unsigned char>(text[i]));
      out += buffer;
      ++i;
      continue;
    }
    if (length > 1) {
      out.append(text, i, length);
      i += length;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(text[i++]);
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
      // toTuple(), not toTupleRef(): libtorch 1.7 (bullseye) has only the former.
      for (const auto& item : value.toTuple()->elements()) {
        items.push_back(item);
      }
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

// Every report carries the file's position among the arguments: the driver matches on it,
// since a name shown escaped is no longer the name it passed.
void report_failure(int index, const std::string& file, const char* error_type,
                    const std::string& message) {
  std::printf("@loadmatrix {\"index\":%d,\"file\":%s,\"ok\":false,\"error_type\":%s,"
              "\"message\":%s}\n",
              index, quote(file).c_str(), quote(error_type).c_str(), quote(message).c_str());
}

void load_one(int index, const std::string& mode, const std::string& path) {
  try {
    if (mode == "pickle") {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        report_failure(index, path, "io", "cannot open " + path);
        return;
      }
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      c10::IValue value = torch::pickle_load(bytes);
      std::printf("@loadmatrix {\"index\":%d,\"file\":%s,\"ok\":true,\"type\":%s,"
                  "\"value\":%s}\n",
                  index, quote(path).c_str(), quote(value.tagKind()).c_str(),
                  describe(value, 0).c_str());
    } else {
      torch::jit::Module module = torch::jit::load(path);
      std::string name = module.type()->name() ? module.type()->name()->qualifiedName() : "?";
      std::printf("@loadmatrix {\"index\":%d,\"file\":%s,\"ok\":true,\"type\":\"Module\","
                  "\"value\":{\"module\":%s}}\n",
                  index, quote(path).c_str(), quote(name).c_str());
    }
  } catch (const c10::Error& e) {
    report_failure(index, path, "c10::Error", e.what_without_backtrace());
  } catch (const std::exception& e) {
    report_failure(index, path, "std::exception", e.what());
  }
}

} // namespace

// Each file loads in a forked child, so one that crashes or hangs costs only its own result.
int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: cpp_probe pickle|jit [--timeout SECONDS] FILE...\n");
    return 64;
  }
  std::string mode = argv[1];
  if (mode != "pickle" && mode != "jit") {
    std::fprintf(stderr, "cpp_probe: unknown mode %s\n", mode.c_str());
    return 64;
  }
  int first = 2;
  int timeout_s = 60;
  if (std::string(argv[2]) == "--timeout" && argc > 4) {
    timeout_s = std::atoi(argv[3]);
    first = 4;
  }
  for (int i = first; i < argc; ++i) {
    std::string path = argv[i];
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid == 0) {
      load_one(i - first, mode, path);
      std::fflush(stdout);
      std::_Exit(0);
    }
    int status = 0;
    bool done = false;
    for (int waited_ms = 0; waited_ms < timeout_s * 1000; waited_ms += 5) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        done = true;
        break;
      }
      ::usleep(5000);
    }
    if (!done) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      std::printf("@loadmatrix {\"index\":%d,\"file\":%s,\"timeout\":true}\n", i - first,
                  quote(path).c_str());
    } else if (WIFSIGNALED(status)) {
      std::printf("@loadmatrix {\"index\":%d,\"file\":%s,\"crashed\":true,\"signal\":%d}\n",
                  i - first, quote(path).c_str(), WTERMSIG(status));
    }
  }
  std::fflush(stdout);
  return 0;
}
