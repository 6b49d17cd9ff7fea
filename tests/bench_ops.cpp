// Micro-benchmarks of dlm::score against the ATen composition it replaces (float64
// Gumbel-max, softmax, gather), on CPU float32 logits. Threads: DLM_BENCH_THREADS
// (default 2), the same for both. scripts/bench/bench_ops.sh runs this and prints the ratios.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "dlm/ops/ops.h"
#include "dlm/sampling/scoring.h"

namespace {

struct Inputs {
  at::Tensor logits, seeds, positions, steps;
};

// Logits 3 * N(0, 1): a spread like a small language model's.
Inputs inputs(std::int64_t rows, std::int64_t vocab) {
  at::manual_seed(0);
  const auto opts = at::TensorOptions().dtype(at::kLong);
  return {at::randn({rows, vocab}) * 3, at::full({rows}, 42, opts), at::arange(rows, opts),
          at::full({rows}, 5, opts)};
}

void fused(benchmark::State& state, std::int64_t rows, std::int64_t vocab, double temperature) {
  const Inputs in = inputs(rows, vocab);
  dlm::TokenRule rule;
  rule.temperature = temperature;
  for (auto _ : state) {
    auto out = dlm::ops::score(in.logits, in.seeds, in.positions, in.steps, rule);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * rows);
}

// What the sampler would do without dlm::score: LLaDA's float64 add_gumbel_noise, argmax,
// and the confidence of the chosen token.
void aten(benchmark::State& state, std::int64_t rows, std::int64_t vocab, double temperature) {
  const Inputs in = inputs(rows, vocab);
  for (auto _ : state) {
    const at::Tensor l = in.logits.to(at::kDouble);
    at::Tensor x0;
    if (temperature > 0) {
      const at::Tensor g = at::pow(-at::log(at::rand_like(l)), temperature);
      x0 = at::argmax(at::exp(l) / g, -1);
    } else {
      x0 = at::argmax(l, -1);
    }
    const at::Tensor p = at::softmax(l, -1);
    const at::Tensor confidence = at::gather(p, -1, x0.unsqueeze(-1));
    benchmark::DoNotOptimize(confidence);
  }
  state.SetItemsProcessed(state.iterations() * rows);
}

void register_all() {
  struct Shape {
    std::int64_t rows, vocab;
  };
  for (const Shape s : {Shape{256, 4096}, Shape{32, 126464}}) {
    for (const double t : {0.8, 0.0}) {
      const std::string suffix = "/T=" + std::string(t > 0 ? "0.8" : "0") + "/" +
                                 std::to_string(s.rows) + "x" + std::to_string(s.vocab);
      benchmark::RegisterBenchmark(("score/aten" + suffix).c_str(), aten, s.rows, s.vocab, t)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("score/fused" + suffix).c_str(), fused, s.rows, s.vocab, t)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* threads = std::getenv("DLM_BENCH_THREADS");
  at::set_num_threads(threads ? std::atoi(threads) : 2);
  benchmark::AddCustomContext("threads", std::to_string(at::get_num_threads()));
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
