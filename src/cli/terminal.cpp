#include "cli/terminal.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "dlm/text/utf8_stream.h"

namespace dlm::cli {

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }
bool stdin_is_terminal() { return isatty(STDIN_FILENO) == 1; }

void StreamPrinter::on_text(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

CanvasView::CanvasView(const Tokenizer& tokenizer, std::string prompt, std::int64_t mask_id,
                       std::vector<std::int64_t> end_ids)
    : tokenizer_(tokenizer), prompt_(std::move(prompt)), mask_id_(mask_id), end_ids_(std::move(end_ids)) {}

void CanvasView::on_step(const StepEvent& event) {
  std::string frame = "\x1b[H\x1b[2J";  // home, clear screen
  frame += "\x1b[1m" + prompt_ + "\x1b[0m";
  std::string pending;  // bytes of consecutive tokens, so multi-byte characters stay whole
  const auto flush = [&] {
    frame += utf8_sanitize(pending);
    pending.clear();
  };
  for (const std::int64_t id : event.generated) {
    if (id == mask_id_) {
      flush();
      frame += "\x1b[2m\xE2\x96\x91\x1b[0m";  // dim light shade: a masked position
    } else if (std::find(end_ids_.begin(), end_ids_.end(), id) != end_ids_.end()) {
      flush();
      frame += "\x1b[2m\xE2\x97\x8A\x1b[0m";  // dim lozenge: end of sequence or of turn
    } else {
      pending += tokenizer_.piece_bytes(id);
    }
  }
  flush();
  frame += "\n\x1b[2m[step " + std::to_string(event.step + 1) + "/" +
           std::to_string(event.total_steps) + "]\x1b[0m\n";
  std::fwrite(frame.data(), 1, frame.size(), stdout);
  std::fflush(stdout);
}

}  // namespace dlm::cli
