// The live view's layout (`dlm generate --visual`) on hand-made canvases: word wrapping,
// the window that keeps the active block in view, the legend and status rows of a frame.
// tests/python/tmux_visual.py checks the same view in a real terminal.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cli/live_view.h"
#include "dlm/text/screen_layout.h"

namespace {

using dlm::Ink;
using dlm::Piece;

// The lines as plain text.
std::vector<std::string> texts(const std::vector<dlm::ScreenLine>& lines) {
  std::vector<std::string> out;
  for (const auto& line : lines) {
    std::string s;
    for (const auto& p : line.pieces) s += p.text;
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> wrap(const std::vector<Piece>& pieces, int width,
                              std::size_t focus = 1000, std::size_t* focus_line = nullptr) {
  return texts(dlm::wrap_pieces(pieces, width, focus, focus_line));
}

const std::string kMask = "\xE2\x96\x91";

}  // namespace

TEST_CASE("Live view: text wraps at word boundaries, never inside a word that fits", "[live]") {
  const std::vector<Piece> pieces{{"In the ", Ink::kPrompt}, {"beginn", Ink::kText}, {"ing God created", Ink::kText}};
  CHECK(wrap(pieces, 12) == std::vector<std::string>{"In the ", "beginning ", "God created"});
  CHECK(wrap(pieces, 80) == std::vector<std::string>{"In the beginning God created"});
  // A word longer than the line breaks inside; a space at a break is dropped.
  CHECK(wrap({{"abcdefghij klm", Ink::kText}}, 4) == std::vector<std::string>{"abcd", "efgh", "ij ", "klm"});
  CHECK(wrap({{"ab cd", Ink::kText}}, 2) == std::vector<std::string>{"ab", "cd"});
  // Newlines end lines; tabs become spaces; escapes from model text are made harmless.
  CHECK(wrap({{"a\nb\tc\x1b[2J", Ink::kText}}, 20) ==
        std::vector<std::string>{"a", "b c\xEF\xBF\xBD[2J"});
  // Every line fits the width, counted in code points.
  for (const auto& line : dlm::wrap_pieces({{"\xC3\xA9t\xC3\xA9 \xC3\xA9t\xC3\xA9 \xC3\xA9t\xC3\xA9", Ink::kText}}, 7, 99, nullptr)) {
    CHECK(line.columns <= 7);
  }
}

TEST_CASE("Live view: masks are single glyphs a line may break between", "[live]") {
  std::vector<Piece> pieces{{"Amen ", Ink::kText}};
  for (int i = 0; i < 10; ++i) pieces.push_back({kMask, Ink::kMask});
  std::size_t focus_line = 99;
  const auto lines = wrap(pieces, 8, 1, &focus_line);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "Amen " + kMask + kMask + kMask);
  CHECK(focus_line == 0);
  // Pieces of one ink merge on a line; inks stay apart.
  const auto styled = dlm::wrap_pieces(pieces, 80, 1, nullptr);
  REQUIRE(styled.size() == 1);
  REQUIRE(styled[0].pieces.size() == 2);
  CHECK(styled[0].pieces[1].ink == Ink::kMask);
  CHECK(styled[0].columns == 15);
}

TEST_CASE("Live view: the window keeps the focus line in view", "[live]") {
  CHECK(dlm::window_start(5, 10, 4) == 0);     // everything fits
  CHECK(dlm::window_start(100, 10, 0) == 0);   // focus at the top
  CHECK(dlm::window_start(100, 10, 50) == 47); // a third of the window above the focus
  CHECK(dlm::window_start(100, 10, 99) == 90); // never past the end
  for (std::size_t focus = 0; focus < 100; ++focus) {
    const auto start = dlm::window_start(100, 7, focus);
    CHECK(start <= focus);
    CHECK(focus < start + 7);
  }
  CHECK(dlm::fit_columns("\xE2\x96\x91\xE2\x96\x91x", 2) == "\xE2\x96\x91\xE2\x96\x91");
  CHECK(dlm::fit_columns("abc", 5) == "abc");
}

TEST_CASE("Live view: a frame has the legend, the canvas rows and the status row", "[live]") {
  dlm::cli::FrameInput frame;
  frame.pieces = {{"And God said ", Ink::kPrompt}, {"Let there be", Ink::kText}};
  for (int i = 0; i < 40; ++i) frame.pieces.push_back({kMask, Ink::kMask});
  frame.focus = 2;
  frame.status = "step 3/40 | committed 3/40 tokens";
  const std::string out = dlm::cli::render_frame(frame, 20, 6);
  // Rows are addressed one by one (1..6) and erased to their end; nothing clears the screen.
  for (int r = 1; r <= 6; ++r) CHECK(out.find("\x1b[" + std::to_string(r) + ";1H") != std::string::npos);
  CHECK(out.find("\x1b[7;1H") == std::string::npos);
  CHECK(out.find("\x1b[2J") == std::string::npos);
  CHECK(out.find("masked") != std::string::npos);          // the legend
  CHECK(out.find("step 3/40 | committe") != std::string::npos);  // the status, cut to 20 columns
  CHECK(out.find("committed 3") == std::string::npos);
  CHECK(out.find("there be") != std::string::npos);  // "And God said Let" | "there be" + masks
  // A one-row terminal gets the canvas only.
  const std::string tiny = dlm::cli::render_frame(frame, 20, 1);
  CHECK(tiny.find("masked") == std::string::npos);
  CHECK(tiny.find("step") == std::string::npos);
}
