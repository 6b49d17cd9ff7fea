#pragma once
// The narrow interface between dlm and its sentencepiece module (libdlm_spm.so).
// The module links nothing but sentencepiece and is loaded with RTLD_DEEPBIND, so
// sentencepiece's bundled protobuf never meets libtorch's (linked together, they crash
// before main).
#include <cstddef>
#include <string>
#include <vector>

namespace dlm {

// A loaded sentencepiece model, as seen across the dlopen boundary.
class SpmBackend {
 public:
  virtual ~SpmBackend() = default;
  // Ids of `text`; false (with sentencepiece's reason in `error`) when it cannot encode.
  virtual bool encode(const std::string& text, std::vector<int>& ids, std::string& error) const = 0;
  // Each id's bytes, in id order: pieces with U+2581 turned into spaces, byte pieces
  // as their byte, control ids empty, the unknown id as U+2047.
  virtual std::vector<std::string> all_piece_bytes() const = 0;
  // Each id's piece as the vocabulary spells it ("▁the", "<0x0A>", "<s>"), in id order.
  virtual std::vector<std::string> all_pieces() const = 0;
};

}  // namespace dlm

// Factory exported by the module. Returns nullptr and writes a message to `error`
// (at most error_size bytes, NUL-terminated) when the model does not parse.
extern "C" dlm::SpmBackend* dlm_spm_create(const char* model, std::size_t size, char* error,
                                           std::size_t error_size);
using DlmSpmCreateFn = decltype(&dlm_spm_create);
