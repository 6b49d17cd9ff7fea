#pragma once
// Text laid out for a terminal of a given width and height, as the live view (`dlm generate
// --visual`) draws the canvas: runs of styled text wrapped at word boundaries, and the
// window of lines that keeps a focus (the first masked position) in view. Pure functions
// on strings, so the layout is testable without a terminal.
#include <cstddef>
#include <string>
#include <vector>

namespace dlm {

// How a run of text is drawn.
enum class Ink {
  kPrompt,   // the prompt
  kText,     // committed text
  kMask,     // a masked position (one glyph)
  kEnd,      // an end of sequence or of turn (one glyph)
  kDropped,  // committed text after the end: not part of the output
};

// A run of UTF-8 text in one ink. Mask and end pieces are single glyphs; a line may break
// before or after them. Text may break only at spaces and newlines, or inside a word
// longer than the line.
struct Piece {
  std::string text;
  Ink ink = Ink::kText;
};

// One screen line: its pieces (consecutive cells of one ink merged) and its width.
struct ScreenLine {
  std::vector<Piece> pieces;
  int columns = 0;
};

// The lines of `pieces` at most `width` columns wide (width >= 1; one column per code
// point). Newlines end lines; a space that falls at a break is dropped; tabs become spaces
// and other control characters U+FFFD (model text never moves the cursor). When `focus`
// is below pieces.size(), *focus_line receives the line of that piece's first cell; else
// the last line.
std::vector<ScreenLine> wrap_pieces(const std::vector<Piece>& pieces, int width,
                                    std::size_t focus, std::size_t* focus_line);

// The first of `height` lines to show out of `total` so that `focus_line` is in view with
// about a third of the window above it (context) and the rest below (the active block);
// 0 when everything fits.
std::size_t window_start(std::size_t total, std::size_t height, std::size_t focus_line);

// `text` cut to at most `width` columns.
std::string fit_columns(const std::string& text, int width);

}  // namespace dlm
