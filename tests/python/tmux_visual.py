#!/usr/bin/python3
"""Runs `dlm generate --visual` in a real terminal (a tmux pane of a fixed small size) and
checks what a person would see, with `tmux capture-pane`:

- while it runs: the alternate screen holds one frame, the legend on the first row, the
  status line (step, committed tokens, tokens/s) on the last, masks of the active block in
  view, no line wider than the pane;
- after a normal exit: the command line is still there, the prompt and the text are on the
  normal screen exactly as `dlm generate` without --visual prints the text, and no frame
  reached the scrollback;
- after Ctrl-C: exit code 130, a one-line note, the terminal as it was (normal screen,
  cursor shown, autowrap on, the same stty settings), no frame in the scrollback.

Usage: /usr/bin/python3 tests/python/tmux_visual.py DLM
Exits 0 when every expectation is met, 77 when tmux is not installed (scripts/setup.sh
installs it), otherwise 1 with the pane's contents.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from typing import List

WIDTH, HEIGHT = 60, 12
MASK = "\u2591"


class Pane:
    """One tmux server of its own (no user configuration) with one shell in a fixed-size pane."""

    def __init__(self, workdir: str) -> None:
        self.socket = f"dlm-visual-{os.getpid()}"
        self.workdir = workdir
        env = {**os.environ, "PS1": "$ ", "TERM": "xterm-256color"}
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT),
                  "env", "PS1=$ ", "bash", "--norc", "--noprofile", env=env)
        self.tmux("set-option", "-g", "history-limit", "5000")

    def tmux(self, *args: str, env=None) -> str:
        r = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                           env=env)
        if r.returncode != 0:
            fail(f"tmux {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-l", line)
        self.tmux("send-keys", "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def everything(self) -> str:
        """Scrollback and screen, wrapped lines joined."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-")

    def flag(self, name: str) -> str:
        return self.tmux("display-message", "-p", "#{" + name + "}").strip()

    def wait_for(self, pattern: str, timeout: float = 120.0) -> str:
        """The pane's history once the regular expression `pattern` shows in it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = self.everything()
            if re.search(pattern, history):
                return history
            time.sleep(0.1)
        fail(f"timed out waiting for {pattern!r}")
        return ""

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


PANE = None  # type: Pane


def fail(why: str) -> None:
    print(f"tmux_visual: {why}", file=sys.stderr)
    if PANE is not None:
        r = subprocess.run(["tmux", "-L", PANE.socket, "capture-pane", "-p", "-S", "-"],
                           capture_output=True, text=True)
        print(f"--- pane with scrollback ---\n{r.stdout}", file=sys.stderr)
        PANE.close()
    sys.exit(1)


def check(condition: bool, why: str) -> None:
    if not condition:
        fail(why)


def same_stty(workdir: str, marker: str) -> bool:
    """Whether `stty -g` printed the same before and after the run (waits for the file)."""
    after = f"{workdir}/{marker}.after"
    deadline = time.monotonic() + 30
    while not (os.path.exists(after) and os.path.getsize(after) > 0) and time.monotonic() < deadline:
        time.sleep(0.1)
    with open(f"{workdir}/{marker}.before") as a, open(after) as b:
        return a.read() == b.read()


def check_frame(frame: str) -> None:
    """A frame mid-run: legend first, status last, masks in view, nothing wider than the pane."""
    rows = frame.split("\n")[:HEIGHT]
    check(len(rows) == HEIGHT, f"the frame has {len(rows)} rows, not {HEIGHT}")
    check("masked" in rows[0], f"row 1 is not the legend: {rows[0]!r}")
    status = rows[-1]
    check(status.startswith("step ") and "committed" in status and "tokens/s" in status,
          f"the last row is not the status line: {status!r}")
    check(any(MASK in row for row in rows[1:-1]), "no mask of the active block in view")
    check(all(len(row) <= WIDTH for row in rows), "a row is wider than the pane")


def run_dlm(pane: Pane, args: List[str], marker: str) -> None:
    """Types the command in the pane, its exit code and the stty settings after it."""
    command = " ".join(shlex.quote(a) for a in args)
    pane.type(f"stty -g > {pane.workdir}/{marker}.before; {command}; "
              f"echo {marker}=$?; stty -g > {pane.workdir}/{marker}.after")


def catch_frame(pane: Pane, marker: str) -> str:
    """Polls the alternate screen until a frame with a status line shows."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if pane.flag("alternate_on") == "1":
            frame = pane.screen()
            if "step " in frame and MASK in frame:
                return frame
        if re.search(marker + r"=\d", pane.everything()):
            fail("the run ended before a frame was seen")
        time.sleep(0.05)
    fail("no frame within 120 s")
    return ""


def main() -> None:
    global PANE
    if shutil.which("tmux") is None:
        print("tmux_visual: tmux is not installed (scripts/setup.sh installs it); skipped")
        sys.exit(77)
    dlm = os.path.abspath(sys.argv[1])
    workdir = tempfile.mkdtemp(prefix="dlm-visual-")
    PANE = pane = Pane(workdir)
    prompt = "And God said,"
    common = ["generate", "-q", "-t", "1", "--seed", "3", "--temperature", "0.8", "-p", prompt]

    # A run long enough to watch, then Ctrl-C.
    run_dlm(pane, [dlm, *common, "-n", "480", "--steps", "480", "--block-length", "32",
                   "--cache", "none", "--eos", "suppress", "--visual"], "INTERRUPTED")
    check_frame(catch_frame(pane, "INTERRUPTED"))
    time.sleep(0.3)
    check_frame(catch_frame(pane, "INTERRUPTED"))  # still one frame, redrawn in place
    pane.tmux("send-keys", "C-c")
    history = pane.wait_for(r"INTERRUPTED=\d")
    check("INTERRUPTED=130" in history, "Ctrl-C did not exit with 130")
    check("dlm: interrupted at step" in history, "no note after Ctrl-C")
    check(prompt in history, "the prompt is not on the normal screen after Ctrl-C")
    time.sleep(0.3)
    check(pane.flag("alternate_on") == "0", "still on the alternate screen after Ctrl-C")
    check(pane.flag("cursor_flag") == "1", "the cursor is hidden after Ctrl-C")
    check(pane.flag("wrap_flag") == "1", "autowrap is off after Ctrl-C")
    check(same_stty(workdir, "INTERRUPTED"), "the terminal settings (stty -g) changed after Ctrl-C")
    check("masked" not in history and "committed" not in history,
          "a frame reached the scrollback (Ctrl-C run)")

    # A short run to its end: the text on the normal screen is what plain output prints.
    pane.type("clear")
    time.sleep(1.0)
    pane.tmux("clear-history")
    short = [*common, "-n", "48", "--steps", "48", "--block-length", "16", "--eos", "suppress"]
    plain = subprocess.run([dlm, *short], capture_output=True, text=True)
    check(plain.returncode == 0, f"plain run failed: {plain.stderr}")
    text = plain.stdout.rstrip("\n")
    run_dlm(pane, [dlm, *short, "--visual"], "FINISHED")
    history = pane.wait_for(r"FINISHED=\d")
    check("FINISHED=0" in history, "the visual run did not exit with 0")
    check("--visual" in history, "the command line was wiped")
    joined = history.replace("\n", "")
    check((prompt + text) in joined, f"the final text is not the output: {text!r}")
    check(joined.count(text.strip()[:30]) == 1, "the text appears more than once")
    check("masked" not in history and "committed" not in history and MASK not in history,
          "a frame reached the scrollback")
    check(pane.flag("alternate_on") == "0", "still on the alternate screen")
    check(pane.flag("cursor_flag") == "1", "the cursor is hidden")
    check(same_stty(workdir, "FINISHED"), "the terminal settings (stty -g) changed")
    pane.close()
    shutil.rmtree(workdir, ignore_errors=True)
    print("tmux_visual: ok")


if __name__ == "__main__":
    main()
