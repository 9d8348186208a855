"""The Python tool: runs the model's code in a fresh, isolated interpreter and returns what it printed.

Each call starts `python -I -S` in a new temporary folder, with address-space, CPU-time and
file-size limits and a wall-clock timeout; before the model's code runs, an audit hook (PEP 578)
refuses sockets, subprocesses, `os.system`/`exec`/`fork`, `ctypes` and any file access outside
that folder (reading the standard library excepted), and `import` takes only `ALLOWED_IMPORTS`.
This keeps a policy's accidents (an endless loop, a huge list, `rm -rf`, a download) away from the
trainer; it is not a boundary against a deliberate attacker, which needs a container or a VM.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

#: Modules the model's code may import (their own imports are theirs).
ALLOWED_IMPORTS = (
    "math", "cmath", "fractions", "decimal", "statistics", "itertools", "functools", "collections",
    "heapq", "bisect", "re", "string", "random", "datetime", "operator", "numbers",
)  # fmt: skip
TIMEOUT_S = 5.0
MEMORY_MB = 512
MAX_OUTPUT_CHARS = 2000

#: Runs in the child: sets its limits, installs the guards, then executes the code read from stdin.
GUARD = r"""
import builtins, os, resource, sys
allowed, folder = frozenset(sys.argv[1].split(",")), os.path.realpath(os.getcwd())
memory, cpu_s = int(sys.argv[2]) << 20, int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))  # ends a child the timeout missed
resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
library = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})
for name in allowed:
    __import__(name)
code = sys.stdin.read()
PATH_EVENTS = {"open", "os.listdir", "os.scandir", "os.remove", "os.rename", "os.rmdir", "os.mkdir",
               "os.chmod", "os.chown", "os.symlink", "os.link", "os.truncate", "os.utime", "os.chdir",
               "shutil.rmtree", "shutil.copyfile", "shutil.move", "glob.glob"}
REFUSED = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
           "os.kill", "os.putenv", "ctypes.", "_posixsubprocess", "pty.", "winreg.", "msvcrt.")

def inside(path):
    if isinstance(path, int):
        return True
    real = os.path.realpath(os.fsdecode(path))
    return real == folder or real.startswith(folder + os.sep)

def audit(event, args):
    if event.startswith(REFUSED):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event in PATH_EVENTS and args and args[0] is not None and not inside(args[0]):
        reading = event == "open" and not any(c in str(args[1] or "r") for c in "wax+")
        if not (reading and os.path.realpath(os.fsdecode(args[0])).startswith(library)):
            raise PermissionError(f"sandbox: no file access outside its folder: {args[0]}")

real_import = builtins.__import__

def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and name.partition(".")[0] not in allowed:
        allowed_list = ", ".join(sorted(allowed))
        raise ImportError(f"sandbox: import of {name!r} is not allowed; allowed: {allowed_list}")
    return real_import(name, globals, locals, fromlist, level)

sys.addaudithook(audit)
exec(compile(code, "<tool>", "exec"), {"__builtins__": {**vars(builtins), "__import__": guarded_import},
                                        "__name__": "__main__"})
"""


def python(code: str) -> str:
    """Runs Python code in a sandbox and returns what it printed (print the result you need).

    Args:
        code: a Python program; only math, fractions, itertools and similar modules can be imported.
    """
    with tempfile.TemporaryDirectory(prefix="lit-rlvr-tool-") as folder:
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    GUARD,
                    ",".join(ALLOWED_IMPORTS),
                    str(MEMORY_MB),
                    str(int(TIMEOUT_S) + 1),
                ],
                input=code,
                capture_output=True,
                text=True,
                cwd=folder,
                timeout=TIMEOUT_S,
                env={},
            )
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"the code ran past {TIMEOUT_S:g} s") from None
    output = done.stdout
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        output += f"\n{lines[-1] if lines else f'exit code {done.returncode}'}"
    output = output.strip()
    return output[:MAX_OUTPUT_CHARS] + (" [output cut]" if len(output) > MAX_OUTPUT_CHARS else "")
