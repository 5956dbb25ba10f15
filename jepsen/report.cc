#include "jepsen/report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

namespace pharos::jepsen {
namespace {

std::string Html(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

std::map<std::string, int> CountByType(const std::vector<Completed>& ops) {
  std::map<std::string, int> n;
  for (const auto& o : ops) ++n[o.type];
  return n;
}

}  // namespace

std::string SummaryText(const RunSummary& run, const std::vector<Completed>& ops,
                        const std::vector<Fault>& faults) {
  std::ostringstream s;
  auto n = CountByType(ops);
  s << "workload " << run.workload << ", nemesis " << run.nemesis << ", " << run.nodes
    << " nodes, seed " << run.seed << ", " << run.seconds << " s\n"
    << "operations: " << ops.size() << " (ok " << n["ok"] << ", fail " << n["fail"] << ", info "
    << n["info"] << ")\n"
    << "faults: " << faults.size() << "\n";
  for (const auto& f : faults) {
    s << "  " << f.start_ns / 1e9 << " s - " << f.end_ns / 1e9 << " s  " << f.name << "\n";
  }
  for (const auto& note : run.notes) s << "note: " << note << "\n";
  s << "verdict: " << run.verdict << (run.counts ? "" : " (the run does not count)") << "\n";
  return s.str();
}

std::string ReportHtml(const RunSummary& run, const std::vector<Completed>& ops,
                       const std::vector<Fault>& faults) {
  constexpr double kWidth = 1000, kLeft = 60, kPlot = kWidth - kLeft - 20;
  double end = run.seconds * 1e9;
  for (const auto& o : ops) end = std::max(end, static_cast<double>(o.complete_ns));
  end = std::max(end, 1.0);
  auto x = [&](double ns) { return kLeft + kPlot * ns / end; };
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset='utf-8'><title>pharos jepsen: "
    << Html(run.workload) << " / " << Html(run.nemesis) << "</title><style>"
    << "body{font-family:sans-serif;margin:2em;color:#222}svg{background:#fafafa;"
       "border:1px solid #ddd}.ok{fill:#2a9d4b}.fail{fill:#d62828}.info{fill:#f4a300}"
       "pre{background:#f4f4f4;padding:1em}</style></head><body>"
    << "<h1>" << Html(run.verdict) << "</h1><pre>" << Html(SummaryText(run, ops, faults))
    << "</pre>";

  // Fault timeline: one bar per fault, on the run's time axis.
  const double rows = std::max<double>(1, static_cast<double>(faults.size()));
  h << "<h2>Faults</h2><svg width='" << kWidth << "' height='" << 20 * rows + 30 << "'>";
  for (size_t i = 0; i < faults.size(); ++i) {
    const auto& f = faults[i];
    const double x0 = x(static_cast<double>(f.start_ns));
    const double x1 = x(static_cast<double>(f.end_ns ? f.end_ns : end));
    h << "<rect x='" << x0 << "' y='" << 5 + 20 * i << "' width='" << std::max(1.0, x1 - x0)
      << "' height='14' fill='#6c757d'><title>" << Html(f.name) << "</title></rect><text x='"
      << x1 + 4 << "' y='" << 16 + 20 * i << "' font-size='11'>" << Html(f.name) << "</text>";
  }
  h << "</svg>";

  // Latency over time, log scale from 0.1 ms to 10 s, each operation a dot colored by outcome.
  constexpr double kHeight = 300;
  auto y = [&](double ms) {
    const double l = std::log10(std::clamp(ms, 0.1, 10000.0));
    return 10 + (kHeight - 30) * (4 - l) / 5;
  };
  h << "<h2>Latency</h2><svg width='" << kWidth << "' height='" << kHeight << "'>";
  for (double ms : {0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0}) {
    h << "<line x1='" << kLeft << "' x2='" << kWidth - 20 << "' y1='" << y(ms) << "' y2='" << y(ms)
      << "' stroke='#ddd'/><text x='4' y='" << y(ms) + 4 << "' font-size='11'>" << ms
      << " ms</text>";
  }
  for (const auto& f : faults) {
    h << "<rect x='" << x(static_cast<double>(f.start_ns)) << "' y='0' width='"
      << std::max(1.0, x(static_cast<double>(f.end_ns ? f.end_ns : end)) -
                           x(static_cast<double>(f.start_ns)))
      << "' height='" << kHeight << "' fill='#6c757d' opacity='0.12'/>";
  }
  for (const auto& o : ops) {
    h << "<circle class='" << o.type << "' cx='" << x(static_cast<double>(o.invoke_ns)) << "' cy='"
      << y((o.complete_ns - o.invoke_ns) / 1e6) << "' r='1.5'/>";
  }
  h << "</svg><p><span style='color:#2a9d4b'>&#9679; ok</span> <span style='color:#d62828'>"
       "&#9679; fail</span> <span style='color:#f4a300'>&#9679; info</span>, shaded: faults</p>";

  // Throughput: ok operations completed per second.
  const int seconds = static_cast<int>(std::ceil(end / 1e9));
  std::vector<int> per_second(std::max(seconds, 1), 0);
  for (const auto& o : ops) {
    if (o.type != "ok") continue;
    const int s = std::min(seconds - 1, static_cast<int>(o.complete_ns / 1'000'000'000));
    if (s >= 0) ++per_second[s];
  }
  const int peak = std::max(1, *std::max_element(per_second.begin(), per_second.end()));
  h << "<h2>Throughput (ok/s, peak " << peak << ")</h2><svg width='" << kWidth
    << "' height='160'><polyline fill='none' stroke='#1d3557' stroke-width='1.5' points='";
  for (int s = 0; s < static_cast<int>(per_second.size()); ++s) {
    h << x((s + 0.5) * 1e9) << "," << 150 - 140.0 * per_second[s] / peak << " ";
  }
  h << "'/></svg></body></html>\n";
  return h.str();
}

}  // namespace pharos::jepsen
