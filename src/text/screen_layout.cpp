#include "dlm/text/screen_layout.h"

#include <algorithm>

#include "dlm/text/utf8_stream.h"

namespace dlm {
namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// One column of the screen.
struct Cell {
  std::string glyph;  // one code point
  Ink ink;
  std::size_t piece;  // index of the piece it came from
};

bool is_space(const Cell& c) { return c.glyph == " "; }
bool is_newline(const Cell& c) { return c.glyph == "\n"; }
bool is_glyph_piece(Ink ink) { return ink == Ink::kMask || ink == Ink::kEnd; }

// The cells of every piece, one per code point, control characters made harmless.
std::vector<Cell> cells_of(const std::vector<Piece>& pieces) {
  std::vector<Cell> cells;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const std::string text = utf8_sanitize(pieces[i].text);
    for (std::size_t at = 0; at < text.size();) {
      std::size_t len = 1;
      while (at + len < text.size() &&
             (static_cast<unsigned char>(text[at + len]) & 0xC0) == 0x80) {
        ++len;
      }
      std::string glyph = text.substr(at, len);
      at += len;
      const auto byte = static_cast<unsigned char>(glyph[0]);
      if (glyph == "\t") {
        glyph = " ";
      } else if (glyph != "\n" && (byte < 0x20 || byte == 0x7F)) {
        glyph = kReplacement;
      }
      cells.push_back(Cell{std::move(glyph), pieces[i].ink, i});
    }
  }
  return cells;
}

// Builds lines cell by cell.
class LineBuilder {
 public:
  explicit LineBuilder(int width) : width_(width) { lines_.emplace_back(); }

  int room() const { return width_ - lines_.back().columns; }
  bool at_line_start() const { return lines_.back().columns == 0; }
  void new_line() { lines_.emplace_back(); }
  void put(const Cell& c) {
    ScreenLine& line = lines_.back();
    if (line.pieces.empty() || line.pieces.back().ink != c.ink) {
      line.pieces.push_back(Piece{"", c.ink});
    }
    line.pieces.back().text += c.glyph;
    ++line.columns;
  }
  std::size_t current() const { return lines_.size() - 1; }
  std::vector<ScreenLine> take() { return std::move(lines_); }

 private:
  int width_;
  std::vector<ScreenLine> lines_;
};

}  // namespace

std::vector<ScreenLine> wrap_pieces(const std::vector<Piece>& pieces, int width,
                                    std::size_t focus, std::size_t* focus_line) {
  width = std::max(width, 1);
  const std::vector<Cell> cells = cells_of(pieces);
  LineBuilder out(width);
  bool focus_found = false;
  const auto note = [&](const Cell& c) {
    if (!focus_found && c.piece >= focus && focus < pieces.size()) {
      focus_found = true;
      if (focus_line) *focus_line = out.current();
    }
  };
  for (std::size_t i = 0; i < cells.size();) {
    const Cell& c = cells[i];
    if (is_newline(c)) {
      note(c);
      out.new_line();
      ++i;
      continue;
    }
    if (is_space(c)) {
      if (out.room() == 0) {
        out.new_line();  // the space at the break is dropped
      } else {
        out.put(c);
      }
      note(c);
      ++i;
      continue;
    }
    // A word: up to the next space or newline, a glyph piece being a word of its own.
    std::size_t end = i + 1;
    if (!is_glyph_piece(c.ink)) {
      while (end < cells.size() && !is_space(cells[end]) && !is_newline(cells[end]) &&
             !is_glyph_piece(cells[end].ink)) {
        ++end;
      }
    }
    const auto length = static_cast<int>(end - i);
    if (length > out.room() && length <= width && !out.at_line_start()) out.new_line();
    for (; i < end; ++i) {
      if (out.room() == 0) out.new_line();  // a word longer than a line breaks inside
      note(cells[i]);
      out.put(cells[i]);
    }
  }
  std::vector<ScreenLine> lines = out.take();
  if (!focus_found && focus_line) *focus_line = lines.size() - 1;
  return lines;
}

std::size_t window_start(std::size_t total, std::size_t height, std::size_t focus_line) {
  if (height == 0 || total <= height) return 0;
  const std::size_t above = (height - 1) / 3;
  const std::size_t start = focus_line > above ? focus_line - above : 0;
  return std::min(start, total - height);
}

std::string fit_columns(const std::string& text, int width) {
  std::string out;
  int columns = 0;
  for (std::size_t at = 0; at < text.size(); ++at) {
    const bool starts = (static_cast<unsigned char>(text[at]) & 0xC0) != 0x80;
    if (starts && ++columns > width) break;
    out += text[at];
  }
  return out;
}

}  // namespace dlm
