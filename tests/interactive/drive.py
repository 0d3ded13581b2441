"""Runs a command on a pseudo-terminal and answers its prompts, as a person would.

    drive.py CWD ANSWERS -- COMMAND...

ANSWERS is a comma-separated list of lines to type (`^D`: Ctrl-D), one per prompt (a prompt is output
ending in `[...,?]? `). Prints everything the command wrote, then `exit: N`. A prompt
with no answer left, or 60 s of silence, kills the command and exits 3.
"""

import os
import pty
import re
import select
import subprocess
import sys

PROMPT = re.compile(rb"\[[a-z,]*,\?\]\? ")


def main() -> int:
    cwd, answers = sys.argv[1], [a for a in sys.argv[2].split(",") if a]
    command = sys.argv[sys.argv.index("--") + 1 :]
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm")
    proc = subprocess.Popen(command, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    answered = 0
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            sys.stdout.write(out.decode(errors="replace") + "\n[drive.py: no output for 60 s]\n")
            return 3
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the command closed the terminal
            break
        if not chunk:
            break
        out += chunk
        prompts = len(PROMPT.findall(out))
        if prompts > answered:
            if answered >= len(answers):
                proc.kill()
                sys.stdout.write(out.decode(errors="replace") + "\n[drive.py: a prompt with no answer left]\n")
                return 3
            answer = answers[answered]
            # `^D`: end of input (Ctrl-D at the start of a line).
            os.write(master, b"\x04" if answer == "^D" else answer.encode() + b"\n")
            answered += 1
    code = proc.wait()
    sys.stdout.write(out.decode(errors="replace"))
    sys.stdout.write(f"\nexit: {code}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
