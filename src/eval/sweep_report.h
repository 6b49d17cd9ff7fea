#pragma once
// The output directory of a sweep (private to src/): cells.jsonl (one record per
// finished cell, appended and flushed: the resume point), samples.jsonl (every prompt's
// completion of every finished cell), sweep.csv, sweep.json, the Markdown table, and the
// call to scripts/eval/plot_sweep.py.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dlm/eval/sweep.h"
#include "dlm/eval/sweep_cell.h"
#include "dlm/eval/sweep_prompts.h"
#include "dlm/io/jsonl_output.h"

namespace dlm {

using Json = nlohmann::ordered_json;

// The record of a cell: its axis values, and the measures or the reason it was skipped.
Json cell_record(const SweepCell& cell, const CellResult* result, const std::string& settings_key);
// The quality measures as JSON fields (judge_ppl, entropy, ...).
Json quality_record(const QualitySummary& q);
// The samples.jsonl records of a finished cell: one per prompt, in prompt order, with the
// cell id, the prompt (id, text, reference), the completion text and ids, and the
// judge's score of the completion.
std::vector<Json> sample_records(const SweepCell& cell, const CellResult& result,
                                 const std::vector<SweepPrompt>& prompts,
                                 const std::string& settings_key);

class SweepOutput {
 public:
  // Creates `dir` if needed and checks that files can be written there; throws
  // UsageError naming the directory otherwise.
  explicit SweepOutput(std::string dir);

  // Reads DIR/cells.jsonl: records with `settings_key` are finished cells; a record with
  // another key is a UsageError (the directory belongs to a different sweep). A torn
  // last line (an interrupted write) is ignored. DIR/samples.jsonl keeps only the samples
  // of finished cells (those of a cell interrupted after its samples were written run
  // again with it).
  void load_finished(const std::string& settings_key);

  bool finished(const std::string& id) const;
  std::size_t finished_count() const { return records_.size(); }
  // Appends a finished cell: its samples to samples.jsonl, then its record to cells.jsonl
  // (each flushed; the record last, so a cell in cells.jsonl has all its samples), and
  // keeps the record.
  void append(const Json& record, const std::vector<Json>& samples);

  // Writes sweep.csv and sweep.json for the grid's cells (finished ones from the records,
  // skipped ones with their reasons) followed by finished cells of earlier grids, and
  // returns the Markdown table. `meta` gains "cells" and "references".
  std::string write_summary(const std::vector<SweepCell>& grid, Json meta,
                            const std::optional<QualitySummary>& references) const;

  // Runs `python` on scripts/eval/plot_sweep.py to draw sweep.png; returns "" on success or
  // why it failed.
  std::string plot(const std::string& python) const;

  std::string path(const std::string& name) const;

 private:
  // Rewrites samples.jsonl without the samples of cells that are not finished.
  void keep_finished_samples() const;

  std::string dir_;
  std::unique_ptr<JsonlOutput> cells_;    // cells.jsonl, opened by the first append
  std::unique_ptr<JsonlOutput> samples_;  // samples.jsonl, likewise
  std::vector<Json> records_;  // finished cells, file order
};

}  // namespace dlm
