// The counter-based generator: determinism, independence of its key parts, range and
// rough uniformity, and bit-exact agreement with its Python twin scripts/dlmpy/rng.py.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "dlm/sampling/rng.h"

using dlm::RngKey;
using dlm::RngStream;

namespace {

const char* const kPython = "/usr/bin/python3";

struct Cell {
  std::uint64_t seed, position, step;
  RngStream stream;
};

// Runs scripts/dlmpy/rng.py for one cell; returns the uniforms it prints.
std::vector<double> python_uniforms(const Cell& c, const std::vector<std::uint64_t>& indices) {
  std::string command = std::string(kPython) + " " + DLM_SOURCE_DIR "/scripts/dlmpy/rng.py " +
                        std::to_string(c.seed) + " " + std::to_string(c.position) + " " +
                        std::to_string(c.step) + " " +
                        std::to_string(static_cast<std::uint64_t>(c.stream));
  for (const auto index : indices) command += " " + std::to_string(index);
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::vector<double> out;
  char line[128];
  while (std::fgets(line, sizeof line, pipe)) out.push_back(std::strtod(line, nullptr));
  const int status = pclose(pipe);
  INFO(command);
  REQUIRE(status == 0);
  return out;
}

}  // namespace

TEST_CASE("RngKey is a pure function of its arguments", "[rng]") {
  const RngKey a(42, 3, 7, RngStream::kGumbel);
  const RngKey b(42, 3, 7, RngStream::kGumbel);
  CHECK(a.key() == b.key());
  for (std::uint64_t i = 0; i < 1000; ++i) {
    REQUIRE(a.bits(i) == b.bits(i));
    REQUIRE(a.uniform(i) == b.uniform(i));
  }
}

TEST_CASE("RngKey gives different bits for every different key part", "[rng]") {
  const RngKey base(42, 3, 7, RngStream::kGumbel);
  const std::vector<RngKey> variants{
      RngKey(43, 3, 7, RngStream::kGumbel), RngKey(42, 4, 7, RngStream::kGumbel),
      RngKey(42, 3, 8, RngStream::kGumbel), RngKey(42, 3, 7, RngStream::kPositionScore),
      // Swapped position and step must not collide.
      RngKey(42, 7, 3, RngStream::kGumbel)};
  for (std::size_t v = 0; v < variants.size(); ++v) {
    INFO("variant " << v);
    CHECK(variants[v].key() != base.key());
    CHECK(variants[v].bits(0) != base.bits(0));
  }
  // Every stream of one cell has its own key, and indices within a cell differ.
  std::set<std::uint64_t> stream_keys;
  for (const auto s : {RngStream::kGumbel, RngStream::kPositionScore, RngStream::kTokenSample,
                       RngStream::kReveal, RngStream::kSelect}) {
    stream_keys.insert(RngKey(42, 3, 7, s).key());
  }
  CHECK(stream_keys.size() == 5);
  std::set<std::uint64_t> draws;
  for (std::uint64_t i = 0; i < 4096; ++i) draws.insert(base.bits(i));
  CHECK(draws.size() == 4096);
}

TEST_CASE("RngKey::uniform lies in the open interval (0, 1) and is roughly uniform", "[rng]") {
  const int n = 100000;
  double sum = 0.0, sum_sq = 0.0;
  std::vector<int> deciles(10, 0);
  for (int i = 0; i < n; ++i) {
    const RngKey key(static_cast<std::uint64_t>(i % 97), static_cast<std::uint64_t>(i / 97), 0,
                     RngStream::kGumbel);
    const double u = key.uniform(static_cast<std::uint64_t>(i % 13));
    REQUIRE(u > 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    sum_sq += u * u;
    ++deciles[static_cast<std::size_t>(u * 10)];
  }
  const double mean = sum / n;
  CHECK(mean == Approx(0.5).margin(0.005));
  CHECK(sum_sq / n - mean * mean == Approx(1.0 / 12).margin(0.002));
  for (const int d : deciles) CHECK(d == Approx(n / 10).margin(500));
}

TEST_CASE("RngKey matches its Python twin scripts/dlmpy/rng.py bit for bit", "[rng][python]") {
  REQUIRE(access(kPython, X_OK) == 0);  // a project dependency: its absence is a failure
  const std::vector<Cell> cells{
      {0, 0, 0, RngStream::kGumbel},
      {42, 17, 3, RngStream::kTokenSample},
      {18446744073709551615ULL, 511, 127, RngStream::kSelect},
      {123456789012345ULL, 0, 1000, RngStream::kPositionScore},
      {7, 4095, 4095, RngStream::kReveal},
  };
  const std::vector<std::uint64_t> indices{0, 1, 2, 3, 1000, 4095};
  for (const Cell& c : cells) {
    INFO("seed " << c.seed << " position " << c.position << " step " << c.step << " stream "
                 << static_cast<std::uint64_t>(c.stream));
    const auto expected = python_uniforms(c, indices);
    REQUIRE(expected.size() == indices.size());
    const RngKey key(c.seed, c.position, c.step, c.stream);
    for (std::size_t i = 0; i < indices.size(); ++i) {
      INFO("index " << indices[i]);
      CHECK(key.uniform(indices[i]) == expected[i]);  // exact: %.17g round-trips a double
    }
  }
}
