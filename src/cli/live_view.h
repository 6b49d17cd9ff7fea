#pragma once
// `dlm generate --visual`: the canvas redrawn in place each step on the terminal's
// alternate screen (nothing piles up in the scrollback), wrapped at word boundaries to the
// terminal's width (queried every frame, so a resized window is followed), with the active
// region kept in view, a legend line and a status line. On every way out (the end, an
// error, Ctrl-C) the terminal is given back as it was and the text is printed on the
// normal screen.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dlm/model/checkpoint.h"
#include "dlm/sampling/sampler.h"
#include "dlm/text/screen_layout.h"

namespace dlm::cli {

// The frame of one step, as text with escape sequences, for a terminal of `width` x
// `height` cells: legend (row 1), canvas lines, status (last row). Each row is addressed
// and erased to its end, so a frame overwrites the previous one in place.
struct FrameInput {
  std::vector<Piece> pieces;  // prompt, then the canvas
  std::size_t focus = 0;      // the piece to keep in view (the first mask)
  std::string status;
};
std::string render_frame(const FrameInput& frame, int width, int height);

// The pieces of a canvas: the prompt, then committed text, masks and end glyphs; text
// after the first committed end id is kDropped. The focus is the first mask.
FrameInput canvas_frame(const Tokenizer& tokenizer, const std::string& prompt,
                        const std::vector<std::int64_t>& generated, std::int64_t mask_id,
                        const std::vector<std::int64_t>& end_ids);

// Runs one generation under the live view on stdout (a terminal). Returns the result; on
// Ctrl-C (or SIGTERM, SIGHUP) nullopt, after printing the text that was final and a
// one-line note on stderr. The prompt and the text are printed on the normal screen
// without a final newline.
std::optional<GenerationResult> generate_live(Checkpoint& checkpoint, const std::string& prompt,
                                              const std::vector<std::int64_t>& prompt_ids,
                                              const GenerateOptions& options);

}  // namespace dlm::cli
