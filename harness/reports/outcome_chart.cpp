#include "reports/outcome_chart.h"

#include "util/xml_text.h"

#include <algorithm>
#include <array>
#include <fmt/core.h>
#include <map>

namespace loadmatrix {

namespace {

// The chart's three kinds of cell and the rest, with the report's outcome colours.
enum Band { passed, blocked, failed, other, kBands };
constexpr const char* kBandIds[kBands] = {"pass", "blocked", "failed", "other"};
constexpr const char* kBandColors[kBands] = {"#43a047", "#f9a825", "#c62828", "#cfcfcf"};
constexpr const char* kBandLabels[kBands] = {"pass", "blocked by weights_only",
                                             "error, crash, timeout or mismatch",
                                             "unsupported or skipped"};

Band band_of(Outcome outcome) {
  switch (outcome) {
  case Outcome::pass:
    return passed;
  case Outcome::blocked:
    return blocked;
  case Outcome::error:
  case Outcome::crash:
  case Outcome::timeout:
  case Outcome::mismatch:
    return failed;
  case Outcome::unsupported:
  case Outcome::skipped:
    return other;
  }
  return other;
}

constexpr int kLabelWidth = 120; // the mode names
constexpr int kColumn = 190;     // one env
constexpr int kBar = 150;
constexpr int kHeader = 46;
constexpr int kRow = 40;

} // namespace

std::string outcome_chart(const ResultsModel& model) {
  if (model.records.empty() || model.envs.empty()) {
    return "";
  }
  // mode -> env -> counts per band
  std::map<std::string, std::map<std::string, std::array<size_t, kBands>>> counts;
  for (const auto& record : model.records) {
    counts[loader_mode_id(record.mode)][record.consumer][band_of(record.outcome)]++;
  }
  std::vector<std::string> modes;
  for (const auto& mode : model.modes) {
    if (counts.contains(mode)) {
      modes.push_back(mode);
    }
  }
  for (const auto& [mode, by_env] : counts) {
    if (std::find(modes.begin(), modes.end(), mode) == modes.end()) {
      modes.push_back(mode);
    }
  }
  // At least as wide as the legend (about 650 px), which one or two envs would clip.
  int width = std::max(kLabelWidth + kColumn * static_cast<int>(model.envs.size()) + 10, 700);
  int height = kHeader + kRow * static_cast<int>(modes.size()) + 52;
  std::string out = fmt::format(
      "<figure class=\"outcome-chart\" id=\"outcome-chart\"><svg "
      "role=\"img\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"system-ui, sans-serif\" font-size=\"12\" "
      "aria-labelledby=\"outcome-chart-title\"><title id=\"outcome-chart-title\">Cells that "
      "pass, are blocked, or fail, per loader mode and torch version</title>\n",
      width, height);
  // Column heads: the env and its torch; between two, that change's regressions.
  for (size_t e = 0; e < model.envs.size(); ++e) {
    int x = kLabelWidth + kColumn * static_cast<int>(e);
    out += fmt::format("<text x=\"{}\" y=\"16\" font-weight=\"600\">{}</text>"
                       "<text x=\"{}\" y=\"32\" fill=\"#555\">torch {}</text>\n",
                       x, xml_escape(model.envs[e].name), x, xml_escape(model.envs[e].torch));
  }
  for (const auto& change : model.changes) {
    auto column = [&](const std::string& name) {
      for (size_t e = 0; e < model.envs.size(); ++e) {
        if (model.envs[e].name == name) {
          return static_cast<int>(e);
        }
      }
      return -1;
    };
    int from = column(change.from.name);
    int to = column(change.to.name);
    if (from < 0 || to != from + 1) {
      continue; // only adjacent columns have a gap between them to write in
    }
    for (size_t m = 0; m < modes.size(); ++m) {
      size_t regressions = 0;
      if (auto it = change.regressions_by_mode_and_producer.find(modes[m]);
          it != change.regressions_by_mode_and_producer.end()) {
        for (const auto& [producer, n] : it->second) {
          regressions += n;
        }
      }
      if (regressions == 0) {
        continue;
      }
      int x = kLabelWidth + kColumn * to - (kColumn - kBar) / 2; // the gap between the bars
      int y = kHeader + kRow * static_cast<int>(m) + 14;
      out +=
          fmt::format("<g class=\"regressions\" data-from=\"{}\" data-to=\"{}\" "
                      "data-mode=\"{}\" data-regressions=\"{}\"><title>{} regressions "
                      "from {} to {} ({})</title><text x=\"{}\" y=\"{}\" fill=\"#c62828\" "
                      "font-weight=\"700\" text-anchor=\"middle\">▲{}</text></g>\n",
                      xml_escape(change.from.name), xml_escape(change.to.name),
                      xml_escape(modes[m]), regressions, regressions, xml_escape(change.from.name),
                      xml_escape(change.to.name), xml_escape(modes[m]), x, y, regressions);
    }
  }
  for (size_t m = 0; m < modes.size(); ++m) {
    int y = kHeader + kRow * static_cast<int>(m);
    out += fmt::format("<text x=\"0\" y=\"{}\" font-weight=\"600\">{}</text>\n", y + 14,
                       xml_escape(modes[m]));
    for (size_t e = 0; e < model.envs.size(); ++e) {
      const auto& by_env = counts[modes[m]];
      auto found = by_env.find(model.envs[e].name);
      int x = kLabelWidth + kColumn * static_cast<int>(e);
      if (found == by_env.end()) {
        out += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#999\">—</text>\n", x, y + 14);
        continue;
      }
      const auto& band = found->second;
      size_t total = 0;
      for (size_t b = 0; b < kBands; ++b) {
        total += band[b];
      }
      out += fmt::format("<g class=\"bar\" data-mode=\"{}\" data-env=\"{}\" data-pass=\"{}\" "
                         "data-blocked=\"{}\" data-failed=\"{}\" data-other=\"{}\">",
                         xml_escape(modes[m]), xml_escape(model.envs[e].name), band[passed],
                         band[blocked], band[failed], band[other]);
      double at = x;
      for (size_t b = 0; b < kBands; ++b) {
        if (band[b] == 0) {
          continue;
        }
        double w =
            static_cast<double>(kBar) * static_cast<double>(band[b]) / static_cast<double>(total);
        out += fmt::format("<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"16\" "
                           "fill=\"{}\"><title>{} {}: {} of {} cells {}</title></rect>",
                           at, y + 2, w, kBandColors[b], xml_escape(model.envs[e].name),
                           xml_escape(modes[m]), band[b], total, kBandLabels[b]);
        at += w;
      }
      out += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#333\">{} ✓ · {} ⊘ · {} ✗</text></g>\n", x,
                         y + 31, band[passed], band[blocked], band[failed]);
    }
  }
  // The legend.
  int y = kHeader + kRow * static_cast<int>(modes.size()) + 14;
  int x = 0;
  for (size_t b = 0; b < kBands; ++b) {
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"{}\">{}</text>",
                       x, y, kBandColors[b], x + 16, y + 10, kBandLabels[b]);
    x += 40 + static_cast<int>(std::string_view(kBandLabels[b]).size()) * 6;
  }
  out += fmt::format("<text x=\"0\" y=\"{}\" fill=\"#c62828\" font-weight=\"700\">▲ "
                     "regressions since the previous version, in that mode</text>\n",
                     y + 30);
  return out + "</svg></figure>\n";
}

} // namespace loadmatrix
