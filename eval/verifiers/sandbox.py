"""Run an untrusted Python program in a sandbox: the code verifier's only way to execute model output.

Containment, in layers (each one checked by tests/eval/verifiers/test_sandbox_hostile.py):
- a fresh temp dir as cwd and HOME, removed afterwards; a scrubbed environment (PATH, LANG, HOME only:
  no tokens or keys of the parent);
- rlimits: RLIMIT_CPU, RLIMIT_AS (memory), RLIMIT_NPROC (fork bombs), RLIMIT_FSIZE (also caps stdout and
  stderr, which go to files, so a flood of output cannot fill the parent's memory), no core files;
- a wall-clock limit, then SIGKILL to the whole process group;
- `unshare` namespaces where the kernel allows them: a new network namespace (no network, not even the
  host's loopback) and a new PID namespace whose init is the program, so daemons it spawns die with it.
  Launched as root, the program also drops to uid/gid 65534 (nobody): it cannot write or delete files
  outside its dir, read the parent's /proc environ, and RLIMIT_NPROC applies (root ignores it).
  Unprivileged, a user namespace is used instead (same uid outside: file permissions are the user's);
- always, an audit hook in the child that refuses to create non-Unix sockets (the only network block
  when no namespace can be made).
`isolation()` reports which layers this machine gives.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NOBODY = 65534
_BOOT = """\
import sys
def _no_network(event, args, AF_UNIX=1):  # socket.AF_UNIX on Linux; `import socket` would cost 50 ms
    if event == "socket.__new__" and args[1] not in (AF_UNIX, -1):
        raise PermissionError("network access is disabled in the sandbox")
sys.addaudithook(_no_network)
del _no_network
sys.argv = [{main!r}]
with open({main!r}, encoding="utf-8") as _f:
    _code = compile(_f.read(), {main!r}, "exec")
del _f
exec(_code, {{"__name__": "__main__", "__file__": {main!r}, "__builtins__": __builtins__}})
"""


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: float = 10.0
    memory_mb: int = 1024
    max_procs: int = 32
    max_file_mb: int = 16


@dataclass(frozen=True)
class Isolation:
    prefix: tuple[str, ...]
    python: str
    mode: str  # "netns+pidns+nobody" | "userns+netns+pidns" | "none"
    drops_privileges: bool


@dataclass
class RunResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    wall_s: float
    output_capped: bool = False

    @property
    def status(self) -> str:
        """"ok", "timeout", "memory", "output limit", "cpu limit" or "error" (non-zero exit)."""
        if self.timed_out:
            return "timeout"
        if self.returncode == 0:
            return "ok"
        if self.output_capped or self.returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
            return "output limit"  # Python ignores SIGXFSZ: its writes fail with EFBIG instead
        if self.returncode in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL):
            return "cpu limit"
        if "MemoryError" in self.stderr[-2000:]:
            return "memory"
        return "error"


def _probe(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20, cwd="/").returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@lru_cache(maxsize=1)
def isolation() -> Isolation:
    """The strongest isolation this machine allows (probed once per process)."""
    pythons = [sys.executable] + [p for p in ("/usr/bin/python3", shutil.which("python3")) if p]
    candidates = []
    if shutil.which("unshare"):
        ns = ["unshare", "--net", "--pid", "--fork", "--kill-child"]
        if os.geteuid() == 0:
            candidates.append((ns + ["--setgid", str(NOBODY), "--setuid", str(NOBODY)], "netns+pidns+nobody", True))
        candidates.append((["unshare", "--user", "--map-root-user"] + ns[1:], "userns+netns+pidns", False))
    for prefix, mode, drops in candidates:
        for python in dict.fromkeys(pythons):
            if _probe(prefix + [python, "-I", "-c", "pass"]):
                return Isolation(tuple(prefix), python, mode, drops)
    return Isolation((), sys.executable, "none", False)


def _user_process_count() -> int:
    uid = os.getuid()
    return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid)


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


def _limit_setter(limits: Limits, nproc: int):
    def apply() -> None:
        cpu = max(1, int(limits.cpu_s + 0.999))
        mem = limits.memory_mb * 2**20
        fsize = limits.max_file_mb * 2**20
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _scrubbed_env(home: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": home, "PYTHONHASHSEED": "0"}


def run_python(source: str, stdin: str = "", limits: Limits = Limits()) -> RunResult:
    """Run `source` as `__main__` under `limits` with `stdin`; never raises for anything the program does."""
    iso = isolation()
    nproc = limits.max_procs if iso.drops_privileges else _user_process_count() + limits.max_procs
    with tempfile.TemporaryDirectory(prefix="factory-sandbox-") as box, \
            tempfile.TemporaryDirectory(prefix="factory-sandbox-io-") as io_dir:
        work = Path(box) / "work"
        work.mkdir()
        (work / "main.py").write_text(source, encoding="utf-8")
        (work / "_boot.py").write_text(_BOOT.format(main="main.py"), encoding="utf-8")
        (Path(io_dir) / "stdin").write_text(stdin, encoding="utf-8")
        if iso.drops_privileges:
            os.chmod(box, 0o755)
            for path in (work, work / "main.py", work / "_boot.py"):
                os.chown(path, NOBODY, NOBODY)
        cmd = [*iso.prefix, iso.python, "-I", "-B", "_boot.py"]
        result = _execute(cmd, work, Path(io_dir), limits, nproc)
        _make_removable(work)
    return result


def _execute(cmd: list[str], work: Path, io_dir: Path, limits: Limits, nproc: int) -> RunResult:
    start = time.monotonic()
    with open(io_dir / "stdin", "rb") as fin, open(io_dir / "stdout", "wb") as fout, \
            open(io_dir / "stderr", "wb") as ferr:
        proc = subprocess.Popen(
            cmd, stdin=fin, stdout=fout, stderr=ferr, cwd=work, env=_scrubbed_env(str(work)),
            start_new_session=True, preexec_fn=_limit_setter(limits, nproc), close_fds=True,
        )
        timed_out = False
        try:
            proc.wait(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc.pid)
            proc.wait()
    cap = limits.max_file_mb * 2**20
    return RunResult(
        returncode=proc.returncode,
        stdout=_read_capped(io_dir / "stdout", cap),
        stderr=_read_capped(io_dir / "stderr", cap),
        timed_out=timed_out,
        wall_s=time.monotonic() - start,
        output_capped=any((io_dir / name).stat().st_size >= cap for name in ("stdout", "stderr")),
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_capped(path: Path, cap: int) -> str:
    with open(path, "rb") as f:
        return f.read(cap).decode("utf-8", errors="replace")


def _make_removable(root: Path) -> None:
    """A program may chmod its own files to 000; give them back to us so the temp dir can be removed."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            try:
                os.chmod(os.path.join(dirpath, name), 0o700, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
