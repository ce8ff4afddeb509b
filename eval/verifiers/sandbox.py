"""Run an untrusted Python program in a sandbox: the code verifier's only way to execute model output.

Containment, in layers (each one checked by tests/eval/verifiers/test_sandbox_hostile.py):
- bubblewrap (`bwrap`, Debian package `bubblewrap`; `make sandbox` installs it) builds a private mount namespace:
  the program sees read-only `/usr` (the interpreter's shared libraries and `/bin/sh`), the interpreter's own
  install when it lives elsewhere (pyenv, conda), fresh `/proc` and `/dev`, and two empty size-capped tmpfs,
  `/tmp` and its working directory `/box` (HOME), where only its `main.py` sits, read-only. Nothing else of the
  host exists for it: not the repository, not the host's `/tmp`, not `/etc`, not `/home`;
- new network, PID, IPC and UTS namespaces: no network (only a loopback of its own), and the program's daemons die
  with it (the namespace's init exits with the program; `--die-with-parent` ties it to us);
- launched as root, the program runs as uid/gid 65534 (nobody) with no capabilities (`setpriv` inside the
  sandbox), so RLIMIT_NPROC applies and it cannot signal our processes; unprivileged, a user namespace does it;
- a scrubbed environment (PATH, LANG, HOME only: no tokens or keys of the parent);
- rlimits: RLIMIT_CPU, RLIMIT_AS (memory), RLIMIT_NPROC (fork bombs), RLIMIT_FSIZE (also caps stdout and
  stderr, which go to host files, so a flood of output cannot fill the parent's memory), no core files;
- a wall-clock limit, then SIGKILL to the whole process group;
- always, an audit hook in the child that refuses to create non-Unix sockets.
Without bwrap, `unshare` (util-linux) gives the network/PID namespaces and the uid drop but no private file system,
and a warning says so; `isolation()` reports which layers this machine gives.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)
NOBODY = 65534
BOX = "/box"  # the program's working directory inside the bwrap sandbox
_BOOT = """\
import sys
def _no_network(event, args, AF_UNIX=1):  # socket.AF_UNIX on Linux; `import socket` would cost 50 ms
    if event == "socket.__new__" and args[1] not in (AF_UNIX, -1):
        raise PermissionError("network access is disabled in the sandbox")
sys.addaudithook(_no_network)
del _no_network
sys.argv = ["main.py"]
with open("main.py", encoding="utf-8") as _f:
    _code = compile(_f.read(), "main.py", "exec")
del _f
exec(_code, {"__name__": "__main__", "__file__": "main.py", "__builtins__": __builtins__})
"""
_DROP = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all",
         "--bounding-set=-all", "--no-new-privs", "--"]


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: float = 10.0
    memory_mb: int = 1024
    max_procs: int = 32
    max_file_mb: int = 16
    disk_mb: int = 64  # size of each of the program's tmpfs (/tmp and its working directory)


@dataclass(frozen=True)
class Isolation:
    tool: str  # "bwrap" | "unshare" | "none"
    python: str
    mode: str  # "bwrap+nobody" | "bwrap+userns" | "netns+pidns+nobody" | "userns+netns+pidns" | "none"
    drops_privileges: bool

    @property
    def private_fs(self) -> bool:
        return self.tool == "bwrap"

    def command(self, host_box: Path, limits: Limits) -> list[str]:
        argv = [self.python, "-I", "-B", "-c", _BOOT]
        if self.tool == "bwrap":
            return _bwrap_prefix(self, host_box, limits) + (_DROP if self.drops_privileges else []) + argv
        if self.tool == "unshare":
            return _unshare_prefix(self.mode) + argv
        return argv


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


def _interpreters() -> list[str]:
    """Pythons to run programs with, of our major.minor version, never the venv's (its packages stay out).

    The system's /usr/bin python comes first: it needs nothing bound beyond /usr, and a distribution build starts
    in ~40 ms where a pyenv `--enable-shared` build takes ~100 ms (measured here), which is most of a sandbox run.
    """
    base = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    system = [f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}", "/usr/bin/python3"]
    return list(dict.fromkeys([os.path.realpath(p) for p in system if os.path.exists(p)] + [base]))


def _system_mounts() -> list[str]:
    """`/usr` read-only, and the merged-/usr links (/bin -> usr/bin, ...) as the host has them."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _interpreter_mounts(python: str) -> list[str]:
    """A python outside /usr (pyenv, conda, uv): its binary and its lib/ (stdlib, libpython), read-only."""
    if python.startswith("/usr/"):
        return []
    lib = os.path.join(os.path.dirname(os.path.dirname(python)), "lib")  # <prefix>/bin/python -> <prefix>/lib
    paths = [python] + ([lib] if os.path.isdir(lib) else [])
    parents = sorted({str(a) for p in paths for a in Path(p).parents if str(a) != "/"}, key=len)
    dirs = [arg for d in parents for arg in ("--perms", "0755", "--dir", d)]  # bwrap copies /root's 0700
    return dirs + [arg for p in paths for arg in ("--ro-bind", p, p)]


def _bwrap_prefix(iso: Isolation, host_box: Path, limits: Limits) -> list[str]:
    size = str(limits.disk_mb * 2**20)
    return [
        "bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        *([] if iso.drops_privileges else ["--unshare-user"]),
        "--die-with-parent", "--new-session",
        *_system_mounts(), *_interpreter_mounts(iso.python),
        "--proc", "/proc", "--dev", "/dev",
        "--size", size, "--perms", "1777", "--tmpfs", "/tmp",
        "--size", size, "--perms", "1777", "--tmpfs", BOX,
        "--ro-bind", str(host_box / "main.py"), f"{BOX}/main.py",
        "--chdir", BOX,
    ]


def _unshare_prefix(mode: str) -> list[str]:
    ns = ["unshare", "--net", "--pid", "--fork", "--kill-child"]
    if mode == "netns+pidns+nobody":
        return ns + ["--setgid", str(NOBODY), "--setuid", str(NOBODY)]
    return ["unshare", "--user", "--map-root-user"] + ns[1:]


def _probe(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20, cwd="/").returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@lru_cache(maxsize=1)
def isolation() -> Isolation:
    """The strongest isolation this machine allows (probed once per process)."""
    root = os.geteuid() == 0
    pythons = _interpreters()
    if shutil.which("bwrap") and (not root or shutil.which("setpriv")):
        with tempfile.TemporaryDirectory(prefix="factory-sandbox-probe-") as box:
            same = f"import sys\nassert sys.version_info[:2] == {tuple(sys.version_info[:2])}\n"
            (Path(box) / "main.py").write_text(same, encoding="utf-8")
            os.chmod(Path(box) / "main.py", 0o644)
            for python in pythons:
                iso = Isolation("bwrap", python, "bwrap+nobody" if root else "bwrap+userns", root)
                if _probe(iso.command(Path(box), Limits())):
                    return iso
    log.warning("sandbox: bubblewrap (bwrap) is missing or cannot run here, so sandboxed programs can read "
                "the host's world-readable files; install it with `make sandbox` (Debian: apt-get install bubblewrap)")
    modes = (["netns+pidns+nobody"] if root else []) + ["userns+netns+pidns"]
    if shutil.which("unshare"):
        for mode in modes:
            for candidate in dict.fromkeys(pythons):
                if _probe(_unshare_prefix(mode) + [candidate, "-I", "-c", "pass"]):
                    return Isolation("unshare", candidate, mode, mode.endswith("nobody"))
    return Isolation("none", sys.executable, "none", False)


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
    with tempfile.TemporaryDirectory(prefix="factory-sandbox-") as box:
        host_box = Path(box)
        (host_box / "main.py").write_text(source, encoding="utf-8")
        (host_box / "stdin").write_text(stdin, encoding="utf-8")
        work = host_box / "work"  # the cwd when there is no private file system (unshare / none)
        work.mkdir()
        if iso.private_fs:
            os.chmod(host_box / "main.py", 0o644)
        else:
            shutil.copy(host_box / "main.py", work / "main.py")
            if iso.drops_privileges:
                os.chmod(box, 0o755)
                for path in (work, work / "main.py"):
                    os.chown(path, NOBODY, NOBODY)
        home = BOX if iso.private_fs else str(work)
        result = _execute(iso.command(host_box, limits), work, host_box, limits, nproc, home)
        _make_removable(work)
    return result


def _execute(cmd: list[str], work: Path, io_dir: Path, limits: Limits, nproc: int, home: str) -> RunResult:
    start = time.monotonic()
    with open(io_dir / "stdin", "rb") as fin, open(io_dir / "stdout", "wb") as fout, \
            open(io_dir / "stderr", "wb") as ferr:
        proc = subprocess.Popen(
            cmd, stdin=fin, stdout=fout, stderr=ferr, cwd=work, env=_scrubbed_env(home),
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
