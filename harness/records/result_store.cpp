#include "records/result_store.h"

#include "util/output_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/core.h>
#include <sstream>
#include <unistd.h>

namespace loadmatrix {

namespace {

std::filesystem::path journal_path(const std::filesystem::path& dir) {
  return dir / "records.jsonl";
}

} // namespace

Expected<std::unique_ptr<ResultStore>> ResultStore::open(const std::filesystem::path& dir,
                                                         RunStart start, Json header) {
  bool resume = start == RunStart::kResume;
  if (auto made = prepare_output_dir(dir); !made) {
    return made.error();
  }
  std::map<std::string, Record> kept;
  size_t good_bytes = 0;
  auto journal = journal_path(dir);
  if (resume && std::filesystem::exists(journal)) {
    auto text = read_text_file(journal);
    if (!text) {
      return text.error();
    }
    size_t line_no = 0;
    size_t offset = 0;
    while (offset < text->size()) {
      size_t end = text->find('\n', offset);
      if (end == std::string::npos) {
        break; // a torn last line: the run died while writing it
      }
      ++line_no;
      auto origin = fmt::format("{}:{}", journal.string(), line_no);
      auto parsed = parse_json(std::string_view(*text).substr(offset, end - offset), origin);
      if (!parsed) {
        break; // likewise torn: everything before it is intact
      }
      auto record = Record::from_json(*parsed, origin);
      if (!record) {
        return record.error();
      }
      kept[record->key()] = *record;
      offset = end + 1;
      good_bytes = offset;
    }
  }
  auto opened = open_output_stream(journal, resume ? StreamStart::kAppend : StreamStart::kTruncate);
  if (!opened) {
    return opened.error();
  }
  int fd = *opened;
  if (resume && ::ftruncate(fd, static_cast<off_t>(good_bytes)) != 0) {
    ::close(fd);
    return Error{fmt::format("truncate {}: {}", journal.string(), std::strerror(errno))};
  }
  std::unique_ptr<ResultStore> store(new ResultStore(dir, std::move(header), fd));
  store->resumed_ = kept.size();
  store->records_ = std::move(kept);
  return store;
}

ResultStore::~ResultStore() {
  if (journal_ >= 0) {
    ::close(journal_);
  }
}

bool ResultStore::has(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return records_.contains(key);
}

size_t ResultStore::size() const {
  std::lock_guard lock(mutex_);
  return records_.size();
}

std::vector<Record> ResultStore::records() const {
  std::lock_guard lock(mutex_);
  std::vector<Record> all;
  for (const auto& [key, record] : records_) {
    all.push_back(record);
  }
  return all;
}

Expected<void> ResultStore::append(const Record& record) {
  std::string line = dump_json(record.to_json()) + "\n";
  bool snapshot = false;
  {
    std::lock_guard lock(mutex_);
    if (auto written = write_all(journal_, line, journal_path(dir_).string()); !written) {
      return written.error();
    }
    ::fdatasync(journal_);
    records_[record.key()] = record;
    auto now = std::chrono::steady_clock::now();
    if (now - last_snapshot_ > std::chrono::seconds(5)) {
      last_snapshot_ = now;
      snapshot = true;
    }
  }
  return snapshot ? write_results() : Expected<void>();
}

Expected<void> ResultStore::write_results(const Json& header_updates) {
  Json document;
  {
    std::lock_guard lock(mutex_);
    header_.update(header_updates);
    document = header_;
    document["schema"] = kResultsSchema;
    Json records = Json::array();
    for (const auto& [key, record] : records_) {
      records.push_back(record.to_json());
    }
    document["records"] = std::move(records);
  }
  return write_json_file(dir_ / "results.json", document);
}

Expected<std::pair<Json, std::vector<Record>>> read_results(const std::filesystem::path& path) {
  auto document = read_json_file(path);
  if (!document) {
    return document.error();
  }
  if (!document->is_object() || document->value("schema", "") != kResultsSchema) {
    return Error{fmt::format("{}: schema: expected '{}'", path.string(), kResultsSchema)};
  }
  std::vector<Record> records;
  const Json& list = (*document)["records"];
  for (size_t i = 0; i < list.size(); ++i) {
    auto record = Record::from_json(list[i], fmt::format("{}: records[{}]", path.string(), i));
    if (!record) {
      return record.error();
    }
    records.push_back(*record);
  }
  return std::make_pair(*document, records);
}

} // namespace loadmatrix
