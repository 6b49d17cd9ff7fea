#pragma once
// A whole sweep: every cell of the grid run over the prompt set, each finished cell
// appended to DIR/cells.jsonl (a rerun resumes from there), and the summary written as
// DIR/sweep.csv, DIR/sweep.json, a Markdown table and DIR/sweep.png
// (scripts/eval/plot_sweep.py). See README "dlm sweep".
#include <cstddef>
#include <string>

#include "dlm/model/checkpoint.h"
#include "dlm/sampling/sampler.h"
#include "dlm/eval/sweep.h"

namespace dlm {

// Every setting of a sweep, with its default (`dlm sweep` binds to these fields).
struct SweepSettings {
  std::string model;    // denoiser checkpoint
  std::string judge;    // causal judge checkpoint
  std::string prompts;  // JSONL prompt set
  std::string out_dir;
  std::size_t limit = 0;  // first N prompts; 0: all
  int repeats = 1;        // timed runs of every prompt per cell
  int batch_size = 1;     // prompts generated together (dlm::generate_batch); 1: one by one
  SweepGrid grid;
  GenerateOptions base;   // the single-valued options every cell shares
  RuntimeOptions runtime;
  bool plot = true;       // draw sweep.png
  std::string python = "/usr/bin/python3";  // runs scripts/eval/plot_sweep.py
};

struct SweepSummary {
  std::string markdown;  // the table printed at the end
  int cells_run = 0;     // run by this invocation
  int cells_resumed = 0; // found finished in DIR/cells.jsonl
  int cells_skipped = 0; // invalid combinations (with their reasons in the outputs)
  bool plotted = false;
};

// Runs the sweep. Throws UsageError (before any generation) for an unreadable or
// malformed prompt file, an output directory that cannot be written or that holds cells
// of a sweep with other settings, a model that is not a denoiser, or a judge that is not
// causal or cannot score the prompts and references.
SweepSummary run_sweep(const SweepSettings& settings);

}  // namespace dlm
