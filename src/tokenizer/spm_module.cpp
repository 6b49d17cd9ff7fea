// The sentencepiece module: built as its own shared object, linked only with
// sentencepiece, loaded by src/tokenizer/tokenizer.cpp.
#include <sentencepiece_processor.h>

#include <cstdio>
#include <memory>

#include "spm_backend.h"

namespace dlm {
namespace {

class SpmProcessor : public SpmBackend {
 public:
  explicit SpmProcessor(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp)
      : sp_(std::move(sp)) {}

  bool encode(const std::string& text, std::vector<int>& ids, std::string& error) const override {
    ids.clear();
    const auto status = sp_->Encode(text, &ids);
    if (status.ok()) return true;
    error = status.ToString();
    return false;
  }

  std::vector<std::string> all_piece_bytes() const override {
    const int n = sp_->GetPieceSize();
    std::vector<std::string> out(static_cast<std::size_t>(n));
    for (int id = 0; id < n; ++id) {
      if (sp_->IsControl(id)) continue;
      if (sp_->IsUnknown(id)) {
        out[id] = "\xE2\x81\x87";  // U+2047, as sentencepiece decodes <unk>
        continue;
      }
      const std::string& piece = sp_->IdToPiece(id);
      if (sp_->IsByte(id)) {  // "<0xAB>"
        out[id] = std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
        continue;
      }
      std::string text;
      for (std::size_t i = 0; i < piece.size(); ++i) {
        if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {  // U+2581 marks a space
          text += ' ';
          i += 2;
        } else {
          text += piece[i];
        }
      }
      out[id] = std::move(text);
    }
    return out;
  }

  std::vector<std::string> all_pieces() const override {
    const int n = sp_->GetPieceSize();
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int id = 0; id < n; ++id) out.push_back(sp_->IdToPiece(id));
    return out;
  }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace
}  // namespace dlm

extern "C" __attribute__((visibility("default"))) dlm::SpmBackend* dlm_spm_create(
    const char* model, std::size_t size, char* error, std::size_t error_size) {
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = sp->LoadFromSerializedProto(std::string(model, size));
  if (!status.ok()) {
    std::snprintf(error, error_size, "%s", status.ToString().c_str());
    return nullptr;
  }
  return new dlm::SpmProcessor(std::move(sp));
}
