#include "dlm/tokenizer/tokenizer.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <mutex>

#include "dlm/error.h"
#include "dlm/model/model_paths.h"
#include "dlm/one_line.h"
#include "hf_tokenizer.h"
#include "spm_backend.h"

namespace dlm {

std::string Tokenizer::decode_bytes(const std::vector<std::int64_t>& ids) const {
  std::string out;
  for (const auto id : ids) out += piece_bytes(id);
  return out;
}

namespace {

// The module's factory, loaded once per process and never unloaded.
DlmSpmCreateFn spm_factory() {
  static DlmSpmCreateFn factory = nullptr;
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    const std::string path = spm_module_path();
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!handle) {
      failure = fmt::format("cannot load the sentencepiece module {}: {}", path, dlerror());
      return;
    }
    factory = reinterpret_cast<DlmSpmCreateFn>(dlsym(handle, "dlm_spm_create"));
    if (!factory) failure = fmt::format("{} has no dlm_spm_create; rebuild dlm", path);
  });
  if (!factory) throw Error(failure);
  return factory;
}

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(std::unique_ptr<SpmBackend> backend)
      : backend_(std::move(backend)),
        pieces_(backend_->all_piece_bytes()),
        texts_(backend_->all_pieces()) {}

  std::vector<std::int64_t> encode(std::string_view text) const override {
    std::vector<int> ids;
    std::string error;
    if (!backend_->encode(std::string(text), ids, error)) {
      // Never an empty prompt in its place: that would be unconditional generation.
      throw UsageError(fmt::format("sentencepiece cannot encode the text ({}); check that it is "
                                   "UTF-8 text", error));
    }
    return {ids.begin(), ids.end()};
  }
  std::int64_t size() const override { return static_cast<std::int64_t>(pieces_.size()); }
  const std::string& piece_bytes(std::int64_t id) const override {
    static const std::string empty;
    return (id >= 0 && id < size()) ? pieces_[static_cast<std::size_t>(id)] : empty;
  }
  std::string kind() const override { return "sentencepiece"; }
  std::string token_text(std::int64_t id) const override {
    return (id >= 0 && id < size()) ? texts_[static_cast<std::size_t>(id)] : std::string();
  }

 private:
  std::unique_ptr<SpmBackend> backend_;
  std::vector<std::string> pieces_;
  std::vector<std::string> texts_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& model_bytes,
                                          const std::string& origin) {
  if (kind == "hf") {
    try {
      return make_hf_tokenizer(model_bytes, origin);
    } catch (const UsageError& e) {
      throw UsageError(one_line(e.what()));  // a piece echoed from the file may hold a newline
    }
  }
  if (kind != "sentencepiece") {
    throw UsageError(fmt::format("{}: tokenizer kind '{}' is not supported (supported: "
                                 "sentencepiece, hf); re-export the checkpoint", origin, kind));
  }
  char error[512] = {0};
  SpmBackend* backend = spm_factory()(model_bytes.data(), model_bytes.size(), error, sizeof error);
  if (!backend) {
    throw UsageError(fmt::format("{}: tokenizer.model is not a sentencepiece model ({}); "
                                 "re-export the checkpoint", origin, error));
  }
  return std::make_unique<SentencePieceTokenizer>(std::unique_ptr<SpmBackend>(backend));
}

}  // namespace dlm
