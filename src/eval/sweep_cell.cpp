#include "dlm/eval/sweep_cell.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "dlm/sampling/sampler.h"
#include "dlm/eval/text_metrics.h"

namespace dlm {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Mean of the values present; nullopt when none.
struct Mean {
  double sum = 0.0;
  std::int64_t count = 0;
  void add(double v) {
    sum += v;
    ++count;
  }
  std::optional<double> value() const {
    return count > 0 ? std::optional<double>(sum / static_cast<double>(count)) : std::nullopt;
  }
};

}  // namespace

double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double rank = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (rank - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

bool reset_peak_memory() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::optional<double> peak_memory_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      double kib = 0.0;
      if (fields >> kib) return kib / 1024.0;
    }
  }
  return std::nullopt;
}

QualitySummary measure_quality(const Judge& judge, const std::vector<SweepPrompt>& prompts,
                               const std::vector<Completion>& completions) {
  QualitySummary q;
  Mean entropy, distinct, match, in_place;
  double tokens = 0.0;
  for (std::size_t i = 0; i < completions.size(); ++i) {
    const Completion& c = completions[i];
    q.each.push_back(judge.score(prompts[i].prompt, c.text));
    q.judge += q.each.back();
    tokens += static_cast<double>(c.token_ids.size());
    if (!c.token_ids.empty()) entropy.add(token_entropy(c.token_ids));
    if (const auto d = distinct_2(c.token_ids)) distinct.add(*d);
    if (prompts[i].reference && !prompts[i].reference->empty()) {
      match.add(first_words_match(c.text, *prompts[i].reference) ? 1.0 : 0.0);
      in_place.add(in_place_word_share(c.text, *prompts[i].reference));
    }
  }
  q.entropy = entropy.value();
  q.distinct2 = distinct.value();
  q.match5 = match.value();
  q.in_place = in_place.value();
  q.completion_tokens = completions.empty() ? 0.0 : tokens / static_cast<double>(completions.size());
  return q;
}

CellResult run_cell(Checkpoint& model, const Judge& judge, const std::vector<SweepPrompt>& prompts,
                    const SweepCell& cell, int repeats, int batch_size) {
  const auto t_cell = Clock::now();
  std::vector<std::vector<std::int64_t>> ids;
  for (const auto& p : prompts) ids.push_back(encode_prompt(model, p.prompt));
  const std::size_t batch = static_cast<std::size_t>(std::max(batch_size, 1));

  CellResult r;
  const bool tracked = reset_peak_memory();
  std::vector<double> latencies_ms;
  std::vector<Completion> completions;
  std::int64_t nfe = 0;
  for (int rep = 0; rep < std::max(repeats, 1); ++rep) {
    double seconds = 0.0;
    for (std::size_t first = 0; first < prompts.size(); first += batch) {
      const std::size_t last = std::min(prompts.size(), first + batch);
      std::vector<GenerationResult> results;
      const auto t0 = Clock::now();
      if (batch == 1) {
        results.push_back(generate(model, ids[first], cell.options));
      } else {
        std::vector<BatchRequest> requests;
        for (std::size_t i = first; i < last; ++i) requests.push_back({ids[i], cell.options});
        results = generate_batch(model, requests);
      }
      const double s = seconds_since(t0);
      seconds += s;
      for (GenerationResult& g : results) {
        // In a batch, a request's latency runs from the batch's start to its own end.
        latencies_ms.push_back(batch == 1 ? 1000.0 * s : g.total_ms - g.load_ms);
        if (rep > 0) continue;
        nfe += g.nfe;
        completions.push_back({std::move(g.text), std::move(g.token_ids)});
      }
    }
    const double positions =
        static_cast<double>(prompts.size()) * static_cast<double>(cell.options.max_new_tokens);
    r.speed.tokens_per_s_repeats.push_back(seconds > 0 ? positions / seconds : 0.0);
  }
  if (tracked) r.speed.peak_rss_mib = peak_memory_mib();
  r.speed.tokens_per_s = percentile(r.speed.tokens_per_s_repeats, 50);
  r.speed.latency_p50_ms = percentile(latencies_ms, 50);
  r.speed.latency_p95_ms = percentile(latencies_ms, 95);
  r.speed.nfe_per_prompt = static_cast<double>(nfe) / static_cast<double>(prompts.size());
  r.speed.tokens_per_forward =
      nfe > 0 ? static_cast<double>(prompts.size() * cell.options.max_new_tokens) /
                    static_cast<double>(nfe)
              : 0.0;
  r.quality = measure_quality(judge, prompts, completions);
  r.sample = completions.empty() ? std::string() : completions.front().text;
  for (Completion& c : completions) {
    r.texts.push_back(std::move(c.text));
    r.token_ids.push_back(std::move(c.token_ids));
  }
  r.prompts = static_cast<std::int64_t>(prompts.size());
  r.repeats = std::max(repeats, 1);
  r.elapsed_s = seconds_since(t_cell);
  return r;
}

std::optional<QualitySummary> score_references(const Checkpoint& model, const Judge& judge,
                                               const std::vector<SweepPrompt>& prompts) {
  std::vector<SweepPrompt> with_reference;
  std::vector<Completion> references;
  for (const auto& p : prompts) {
    if (!p.reference || p.reference->empty()) continue;
    with_reference.push_back(p);
    const std::string text = reference_continuation(p);
    references.push_back({text, model.tokenizer().encode(text)});
  }
  if (references.empty()) return std::nullopt;
  QualitySummary q = measure_quality(judge, with_reference, references);
  q.match5.reset();  // a reference matches itself: nothing to report
  q.in_place.reset();
  return q;
}

}  // namespace dlm
