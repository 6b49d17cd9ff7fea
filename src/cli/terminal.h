#pragma once
// Terminal output for `dlm generate`: plain streaming and the live canvas view.
#include <string>
#include <vector>

#include "dlm/sampling/sampler.h"

namespace dlm::cli {

bool stdout_is_terminal();
bool stdin_is_terminal();

// Writes streamed text to stdout, flushed at once.
class StreamPrinter : public GenerationObserver {
 public:
  void on_text(const std::string& text) override;
};

// Redraws the prompt and the whole canvas in place after every step, masks dimmed.
class CanvasView : public GenerationObserver {
 public:
  // end_ids: eos, and eot when the checkpoint has one (drawn alike).
  CanvasView(const Tokenizer& tokenizer, std::string prompt, std::int64_t mask_id,
             std::vector<std::int64_t> end_ids);
  void on_step(const StepEvent& event) override;

 private:
  const Tokenizer& tokenizer_;
  std::string prompt_;
  std::int64_t mask_id_;
  std::vector<std::int64_t> end_ids_;
};

}  // namespace dlm::cli
