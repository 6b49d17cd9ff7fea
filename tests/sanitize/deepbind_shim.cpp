// LD_PRELOAD shim for sanitizer runs (scripts/sanitize.sh). dlm loads its sentencepiece
// module with dlopen(RTLD_DEEPBIND) (a protobuf clash with libtorch, README "Layout");
// AddressSanitizer's dlopen interceptor refuses RTLD_DEEPBIND and ends the process. This
// dlopen sends such calls straight to glibc's, looked up in libc.so.6 itself (the next
// dlopen, dlsym(RTLD_NEXT), may be the sanitizer's interceptor); every other call goes to
// the next dlopen as usual. Needs ASAN_OPTIONS=verify_asan_link_order=0 (the shim is
// preloaded ahead of the sanitizer runtime).
#include <dlfcn.h>

namespace {

using DlopenFn = void* (*)(const char*, int);

DlopenFn next_dlopen() {
  static const DlopenFn fn = reinterpret_cast<DlopenFn>(dlsym(RTLD_NEXT, "dlopen"));
  return fn;
}

DlopenFn glibc_dlopen() {
  static const DlopenFn fn = [] {
    void* libc = next_dlopen()("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    return libc ? reinterpret_cast<DlopenFn>(dlsym(libc, "dlopen")) : next_dlopen();
  }();
  return fn;
}

}  // namespace

extern "C" void* dlopen(const char* file, int mode) {
  return (mode & RTLD_DEEPBIND) ? glibc_dlopen()(file, mode) : next_dlopen()(file, mode);
}
