#include "cli/terminal.h"

#include <unistd.h>

#include <cstdio>

namespace dlm::cli {

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }
bool stdin_is_terminal() { return isatty(STDIN_FILENO) == 1; }

void StreamPrinter::on_text(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace dlm::cli
