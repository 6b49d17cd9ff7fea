#pragma once
// The output directory of a sweep (private to src/): cells.jsonl (one record per
// finished cell, appended and flushed: the resume point), sweep.csv, sweep.json, the
// Markdown table, and the call to scripts/eval/plot_sweep.py.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dlm/eval/sweep.h"
#include "dlm/eval/sweep_cell.h"
#include "dlm/io/jsonl_output.h"

namespace dlm {

using Json = nlohmann::ordered_json;

// The record of a cell: its axis values, and the measures or the reason it was skipped.
Json cell_record(const SweepCell& cell, const CellResult* result, const std::string& settings_key);
// The quality measures as JSON fields (judge_ppl, entropy, ...).
Json quality_record(const QualitySummary& q);

class SweepOutput {
 public:
  // Creates `dir` if needed and checks that files can be written there; throws
  // UsageError naming the directory otherwise.
  explicit SweepOutput(std::string dir);

  // Reads DIR/cells.jsonl: records with `settings_key` are finished cells; a record with
  // another key is a UsageError (the directory belongs to a different sweep). A torn
  // last line (an interrupted write) is ignored.
  void load_finished(const std::string& settings_key);

  bool finished(const std::string& id) const;
  std::size_t finished_count() const { return records_.size(); }
  // Appends the record to cells.jsonl, flushed, and keeps it.
  void append(const Json& record);

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
  std::string dir_;
  std::unique_ptr<JsonlOutput> cells_;  // cells.jsonl, opened by the first append
  std::vector<Json> records_;  // finished cells, file order
};

}  // namespace dlm
