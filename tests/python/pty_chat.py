"""Drives `dlm chat` through a pseudo-terminal, as a person at a terminal would: Ctrl-C at
the prompt clears the line, Ctrl-C during an answer stops it and keeps what was final,
the up arrow recalls history, /reset works, Ctrl-D ends the session with exit code 0.

Usage: /usr/bin/python3 tests/python/pty_chat.py DLM [dlm chat options...]
Exits 0 when every expectation is met; otherwise 1, printing the transcript.
"""
import os
import pty
import select
import sys
import time
from typing import List


class Terminal:
    def __init__(self, argv: List[str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(argv[0], argv, {**os.environ, "TERM": "xterm"})
        self.transcript = ""
        self.seen = 0  # transcript offset already matched

    def expect(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.transcript[self.seen:]:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"timed out waiting for {text!r}")
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if ready:
                try:
                    self.transcript += os.read(self.fd, 4096).decode("utf-8", "replace")
                except OSError:
                    self.fail(f"the terminal closed while waiting for {text!r}")
        self.seen += self.transcript[self.seen:].index(text) + len(text)

    def send(self, data: bytes) -> None:
        # A person types after seeing the prompt: give libedit the moment it takes to put the
        # terminal in raw mode after printing "> " (a Ctrl-C typed before that, while the
        # terminal is still cooked, can reach dlm before libedit reads: it is then seen only
        # with the next key; measured as a CI flake under load).
        time.sleep(0.5)
        os.write(self.fd, data)

    def fail(self, why: str) -> None:
        print(f"pty_chat: {why}\n--- transcript ---\n{self.transcript}", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    term = Terminal([sys.argv[1], "chat", "-v", *sys.argv[2:]])
    term.expect("> ")
    term.send(b"junk\x03")  # Ctrl-C at the prompt: the line is dropped
    term.expect("^C")
    term.expect("> ")
    term.send(b"And God said\r")
    term.expect("prompt: \"And God said\"")
    term.expect(" ")  # the answer has started streaming
    term.send(b"\x03")  # Ctrl-C during the answer
    term.expect("answer stopped; what was final is kept")
    term.expect("> ")
    term.send(b"/reset\r")
    term.expect("conversation cleared")
    term.expect("> ")
    term.send(b"\x1b[A")  # up arrow: the last line again
    term.expect("/reset")
    term.send(b"\x03")
    term.expect("> ")
    term.send(b"\x04")  # Ctrl-D
    _, status = os.waitpid(term.pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        term.fail(f"exit status {status}")
    print("ok")


if __name__ == "__main__":
    main()
