#pragma once
// Terminal output for `dlm generate`: plain streaming (the live view is live_view.h).
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

}  // namespace dlm::cli
