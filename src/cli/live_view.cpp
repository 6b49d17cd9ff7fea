#include "cli/live_view.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "dlm/text/utf8_stream.h"

namespace dlm::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kMaskGlyph = "\xE2\x96\x91";  // light shade
constexpr const char* kEndGlyph = "\xE2\x97\x8A";   // lozenge
// Most important first: a narrow terminal cuts the end.
constexpr const char* kLegend =
    "\xE2\x96\x91 masked  \xE2\x97\x8A end of text  struck: after the end (dropped)  Ctrl-C: "
    "stop";
// Enter: alternate screen, cursor hidden, no autowrap (lines are wrapped here), cleared.
constexpr const char* kEnter = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[H\x1b[2J";
// Leave: attributes reset, autowrap and cursor back, normal screen (with its scrollback).
constexpr const char* kLeave = "\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l";

const char* style_of(Ink ink) {
  switch (ink) {
    case Ink::kPrompt: return "\x1b[1m";
    case Ink::kMask:
    case Ink::kEnd: return "\x1b[2m";
    case Ink::kDropped: return "\x1b[2;9m";
    default: return "";
  }
}

void write_out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

// The terminal's size, asked every frame (a resized window is followed); 80 x 24 when
// the terminal does not say.
std::pair<int, int> terminal_size() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    return {ws.ws_col, ws.ws_row};
  }
  return {80, 24};
}

// Ctrl-C, SIGTERM, SIGHUP while the view is up: the first stops the generation after the
// current step (the view then leaves cleanly); a second one, if the step does not end,
// restores the terminal at once and exits 130.
std::atomic<bool> g_stop{false};
termios g_saved_termios{};
bool g_termios_saved = false;

extern "C" void on_live_signal(int) {
  if (!g_stop.exchange(true)) return;
  if (g_termios_saved) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
  const std::string_view leave(kLeave);
  [[maybe_unused]] const auto n = ::write(STDOUT_FILENO, leave.data(), leave.size());
  _exit(130);
}

// The alternate screen and everything else the view changes, given back on destruction
// (normal return or exception).
class ScreenGuard {
 public:
  ScreenGuard() {
    g_stop.store(false);
    g_termios_saved = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &g_saved_termios) == 0;
    if (g_termios_saved) {
      termios quiet = g_saved_termios;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);  // typed keys would scribble on the frame
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    struct sigaction action {};
    action.sa_handler = on_live_signal;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &action, &saved_[i]);
    write_out(kEnter);
  }
  ~ScreenGuard() {
    write_out(kLeave);
    if (g_termios_saved) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
    g_termios_saved = false;
    for (std::size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &saved_[i], nullptr);
  }
  ScreenGuard(const ScreenGuard&) = delete;
  ScreenGuard& operator=(const ScreenGuard&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals{SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> saved_{};
};

// The observer: a frame per step (at most ~30 per second), the final text collected.
class LiveView : public GenerationObserver {
 public:
  LiveView(const Tokenizer& tokenizer, std::string prompt, std::int64_t mask_id,
           std::vector<std::int64_t> end_ids)
      : tokenizer_(tokenizer), prompt_(std::move(prompt)), mask_id_(mask_id),
        end_ids_(std::move(end_ids)), start_(Clock::now()) {}

  void on_text(const std::string& text) override { text_ += text; }

  void on_step(const StepEvent& event) override {
    step_ = event.step + 1;
    total_steps_ = event.total_steps;
    const auto now = Clock::now();
    const bool last = std::none_of(event.generated.begin(), event.generated.end(),
                                   [&](std::int64_t id) { return id == mask_id_; });
    if (!last && drawn_ && now - last_draw_ < std::chrono::milliseconds(33)) return;
    last_draw_ = now;
    drawn_ = true;
    FrameInput frame = canvas_frame(tokenizer_, prompt_, event.generated, mask_id_, end_ids_);
    const auto committed = std::count_if(event.generated.begin(), event.generated.end(),
                                         [&](std::int64_t id) { return id != mask_id_; });
    const double seconds = std::chrono::duration<double>(now - start_).count();
    frame.status = fmt::format("step {}/{} | {}/{} tokens committed | {:.1f} tokens/s | {:.1f} s",
                               step_, total_steps_, committed, event.generated.size(),
                               seconds > 0 ? static_cast<double>(committed) / seconds : 0.0, seconds);
    draw(frame);
  }

  // The last frame: exactly the output (the text up to its end), nothing dimmed.
  void draw_final(const GenerationResult& result) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    FrameInput frame;
    frame.pieces = {Piece{prompt_, Ink::kPrompt}, Piece{result.text, Ink::kText}};
    frame.focus = frame.pieces.size();
    frame.status = fmt::format("done: {} tokens of text in {:.1f} s ({} forward calls)",
                               result.token_ids.size(), seconds, result.nfe);
    draw(frame);
  }

  const std::string& text() const { return text_; }
  std::int64_t step() const { return step_; }
  std::int64_t total_steps() const { return total_steps_; }

 private:
  void draw(const FrameInput& frame) {
    const auto [width, height] = terminal_size();
    write_out(render_frame(frame, width, height));
  }

  const Tokenizer& tokenizer_;
  std::string prompt_;
  std::int64_t mask_id_;
  std::vector<std::int64_t> end_ids_;
  Clock::time_point start_, last_draw_;
  bool drawn_ = false;
  std::string text_;
  std::int64_t step_ = 0, total_steps_ = 0;
};

}  // namespace

FrameInput canvas_frame(const Tokenizer& tokenizer, const std::string& prompt,
                        const std::vector<std::int64_t>& generated, std::int64_t mask_id,
                        const std::vector<std::int64_t>& end_ids) {
  FrameInput frame;
  frame.pieces.push_back(Piece{prompt, Ink::kPrompt});
  bool ended = false;
  bool focused = false;
  std::string pending;  // bytes of consecutive tokens, so multi-byte characters stay whole
  const auto flush = [&] {
    if (!pending.empty()) {
      frame.pieces.push_back(Piece{utf8_sanitize(pending), ended ? Ink::kDropped : Ink::kText});
    }
    pending.clear();
  };
  for (const std::int64_t id : generated) {
    if (id == mask_id) {
      flush();
      if (!focused) {
        frame.focus = frame.pieces.size();
        focused = true;
      }
      frame.pieces.push_back(Piece{kMaskGlyph, Ink::kMask});
    } else if (std::find(end_ids.begin(), end_ids.end(), id) != end_ids.end()) {
      flush();
      frame.pieces.push_back(Piece{kEndGlyph, Ink::kEnd});
      ended = true;
    } else {
      pending += tokenizer.piece_bytes(id);
    }
  }
  flush();
  if (!focused) frame.focus = frame.pieces.size();
  return frame;
}

std::string render_frame(const FrameInput& frame, int width, int height) {
  width = std::max(width, 1);
  height = std::max(height, 1);
  const bool legend = height >= 3;
  const bool status = height >= 2;
  const int area = height - (legend ? 1 : 0) - (status ? 1 : 0);
  std::size_t focus_line = 0;
  const auto lines = wrap_pieces(frame.pieces, width, frame.focus, &focus_line);
  const std::size_t first =
      window_start(lines.size(), static_cast<std::size_t>(area), focus_line);
  std::string out;
  const auto row = [&](int r) { out += fmt::format("\x1b[{};1H", r); };
  int r = 1;
  if (legend) {
    row(r++);
    out += "\x1b[2m" + fit_columns(kLegend, width) + "\x1b[0m\x1b[K";
  }
  for (int i = 0; i < area; ++i) {
    row(r++);
    const std::size_t index = first + static_cast<std::size_t>(i);
    if (index < lines.size()) {
      for (const Piece& piece : lines[index].pieces) {
        const char* style = style_of(piece.ink);
        out += style;
        out += piece.text;
        if (*style) out += "\x1b[0m";
      }
    }
    out += "\x1b[K";
  }
  if (status) {
    row(r);
    out += "\x1b[7m" + fit_columns(frame.status, width) + "\x1b[0m\x1b[K";
  }
  return out;
}

std::optional<GenerationResult> generate_live(Checkpoint& checkpoint, const std::string& prompt,
                                              const std::vector<std::int64_t>& prompt_ids,
                                              const GenerateOptions& options) {
  const ModelConfig& config = checkpoint.config();
  std::vector<std::int64_t> ends{config.eos_id};
  if (config.eot_id) ends.push_back(*config.eot_id);
  LiveView view(checkpoint.tokenizer(), prompt, config.mask_id, ends);
  std::optional<GenerationResult> result;
  {
    ScreenGuard screen;
    generate_batch(checkpoint, {BatchRequest{prompt_ids, options, &view}},
                   [&](std::size_t, GenerationResult&& r) { result = std::move(r); }, &g_stop);
    if (result) view.draw_final(*result);
  }
  // The normal screen: the prompt and the text, as the last frame showed them.
  write_out(std::string(style_of(Ink::kPrompt)) + prompt + "\x1b[0m" +
            (result ? result->text : view.text()));
  if (!result) {
    write_out("\n");
    std::cerr << fmt::format("dlm: interrupted at step {} of {}; above is the text that was "
                             "final by then\n",
                             view.step(), view.total_steps());
  }
  return result;
}

}  // namespace dlm::cli
