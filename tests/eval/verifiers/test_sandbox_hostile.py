"""Hostile programs in the sandbox: each is contained, gets a clear status, and leaves the machine unharmed."""

import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from eval.verifiers.sandbox import Limits, isolation, run_python

FAST = Limits(wall_s=3, cpu_s=2, memory_mb=256, max_procs=16, max_file_mb=1)
needs_privilege_drop = pytest.mark.skipif(
    not isolation().drops_privileges,
    reason="file-system isolation needs the sandbox to drop to another uid (launch as root)",
)
needs_private_fs = pytest.mark.skipif(
    not isolation().private_fs,
    reason="a private file system needs bubblewrap (`make sandbox`, or apt-get install bubblewrap)",
)
REPO = Path(__file__).resolve().parents[3]


def processes_with(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


def assert_machine_fine():
    assert subprocess.run(["true"]).returncode == 0  # we can still fork and exec


def test_isolation_is_reported():
    assert isolation().mode in {"bwrap+nobody", "bwrap+userns", "netns+pidns+nobody", "userns+netns+pidns", "none"}


def test_fork_bomb_is_capped_by_the_process_limit_and_its_children_die():
    marker = f"forkbomb-{uuid.uuid4().hex}"
    program = f"""
import os, time, sys
n = 0
for _ in range(500):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.execv("/bin/sleep", ["{marker}", "30"])  # the marker is argv[0]: sleep runs for 30 s
    n += 1
print(n, flush=True)
"""
    result = run_python(program, limits=FAST)
    assert result.status == "ok", result.stderr
    assert int(result.stdout) < FAST.max_procs + 1
    time.sleep(0.2)
    assert processes_with(marker) == []
    assert_machine_fine()


def test_infinite_loop_is_stopped_at_the_cpu_or_wall_limit():
    start = time.monotonic()
    result = run_python("while True:\n    pass\n", limits=Limits(wall_s=1.5, cpu_s=1))
    assert result.status in {"timeout", "cpu limit"}
    assert time.monotonic() - start < FAST.wall_s + 2


def test_memory_bomb_hits_the_memory_limit():
    result = run_python("blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))\n", limits=FAST)
    assert result.status == "memory", (result.status, result.stderr[-300:])


def test_socket_cannot_reach_a_server_on_the_host():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(4)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(_accept(server)), daemon=True).start()
    program = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'leak')\n"
    result = run_python(program, limits=FAST)
    assert result.status == "error" and "network access is disabled" in result.stderr
    time.sleep(0.5)
    assert accepted in ([], [None])
    server.close()


def _accept(server):
    try:
        return server.accept()
    except OSError:
        return None


def test_parent_environment_secrets_are_invisible(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_fake_secret_4242")
    program = f"""
import os
print(sorted(os.environ.items()))
try:
    print(open("/proc/{os.getpid()}/environ", "rb").read())
except OSError as e:
    print("denied", type(e).__name__)
"""
    result = run_python(program, limits=FAST)
    assert result.status == "ok"
    assert "hf_fake_secret_4242" not in result.stdout + result.stderr
    assert "HF_TOKEN" not in result.stdout


@needs_privilege_drop
def test_writing_outside_its_dir_fails(tmp_path):
    target = tmp_path / "pwned.txt"
    result = run_python(f"open({str(target)!r}, 'w').write('x')\n", limits=FAST)
    assert result.status == "error" and ("PermissionError" in result.stderr or "FileNotFoundError" in result.stderr)
    assert not target.exists()


@needs_privilege_drop
def test_deleting_files_outside_fails(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data.txt").write_text("precious")
    os.chmod(tmp_path, 0o755)
    os.chmod(victim, 0o755)
    program = f"import shutil\nshutil.rmtree({str(victim)!r})\n"
    result = run_python(program, limits=FAST)
    assert result.status == "error"
    assert (victim / "data.txt").read_text() == "precious"


@needs_privilege_drop
def test_killing_the_parent_fails():
    result = run_python(f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)\n", limits=FAST)
    assert result.status == "error"  # and we are still alive to assert it


def test_huge_stdout_is_cut_at_the_file_size_limit():
    start = time.monotonic()
    result = run_python("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", limits=FAST)
    assert result.status == "output limit"
    assert len(result.stdout) <= FAST.max_file_mb * 2**20
    assert time.monotonic() - start < FAST.wall_s + 2


def test_sleeping_past_the_wall_limit_is_killed():
    start = time.monotonic()
    result = run_python("import time\ntime.sleep(60)\n", limits=Limits(wall_s=1, cpu_s=1))
    assert result.status == "timeout" and result.timed_out
    assert time.monotonic() - start < 3


def test_daemon_spawned_by_the_program_dies_with_it():
    marker = f"daemon-{uuid.uuid4().hex}"
    program = f"""
import os, subprocess
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["{marker}", "30"])  # the marker is argv[0]: sleep runs for 30 s
    os._exit(0)
import time
for _ in range(100):  # wait until the daemon really runs, so the check below cannot pass vacuously
    if any(b"{marker}" in open(f"/proc/{{p}}/cmdline", "rb").read() for p in os.listdir("/proc") if p.isdigit()):
        print("spawned")
        break
    time.sleep(0.02)
"""
    result = run_python(program, limits=FAST)
    assert result.status == "ok" and "spawned" in result.stdout
    time.sleep(0.3)
    assert processes_with(marker) == []
    assert_machine_fine()


def test_program_files_and_temp_dir_are_removed(tmp_path, monkeypatch):
    # A temp root of its own: under xdist another worker's sandbox may be alive in the shared /tmp.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = run_python("import os\nos.mkdir('d')\nopen('d/f', 'w').write('x')\nos.chmod('d', 0)\n", limits=FAST)
    assert result.status == "ok", result.stderr
    assert list(tmp_path.iterdir()) == []


@needs_private_fs
def test_tmp_and_cwd_are_private_empty_and_writable():
    program = """
import os
print(sorted(os.listdir("/tmp")), sorted(os.listdir(".")))
open("/tmp/scratch", "w").write("a")
open("here.txt", "w").write("b")
print(open("/tmp/scratch").read() + open("here.txt").read())
"""
    result = run_python(program, limits=FAST)
    assert result.status == "ok", result.stderr
    assert result.stdout.splitlines() == ["[] ['main.py']", "ab"]


@needs_private_fs
def test_a_write_to_tmp_never_reaches_the_host():
    name = f"sandbox-escape-{uuid.uuid4().hex}"
    result = run_python(f"open('/tmp/{name}', 'w').write('x')\nprint('wrote')\n", limits=FAST)
    assert result.status == "ok" and "wrote" in result.stdout, result.stderr
    assert not (Path("/tmp") / name).exists()
    assert not (Path(tempfile.gettempdir()) / name).exists()


@needs_private_fs
@pytest.mark.parametrize("path", [str(REPO / "pyproject.toml"), __file__, "/etc/passwd"])
def test_the_repository_and_host_files_cannot_be_read(path):
    assert Path(path).is_file()
    result = run_python(f"print(open({path!r}).read()[:20])\n", limits=FAST)
    assert result.status == "error" and "FileNotFoundError" in result.stderr, result.stdout


@needs_private_fs
def test_a_world_readable_file_in_a_host_temp_dir_is_invisible():
    with tempfile.TemporaryDirectory() as host_dir:
        secret = Path(host_dir) / "world-readable.txt"
        secret.write_text("host secret 4242")
        os.chmod(host_dir, 0o755)
        os.chmod(secret, 0o644)
        program = f"import os\nprint(os.path.exists({host_dir!r}))\nprint(open({str(secret)!r}).read())\n"
        result = run_python(program, limits=FAST)
    assert result.status == "error" and "FileNotFoundError" in result.stderr
    assert result.stdout.strip() == "False" and "4242" not in result.stdout


@needs_private_fs
def test_only_the_interpreter_and_system_libraries_are_visible():
    program = "import os\nprint(sorted(os.listdir('/')))\nopen('/usr/pwned', 'w')\n"
    result = run_python(program, limits=FAST)
    top = set(eval(result.stdout.splitlines()[0]))
    assert top <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "proc", "dev", "tmp", "box",
                   *Path(isolation().python).parts[1:2]}, top
    assert {"etc", "home", "work", "var"}.isdisjoint(top - set(Path(isolation().python).parts[1:2]))
    assert result.status == "error" and ("Read-only file system" in result.stderr or "Permission" in result.stderr)


@needs_private_fs
def test_a_raw_socket_call_past_the_audit_hook_cannot_reach_the_host():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    program = f"""
import ctypes, struct
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM straight from libc: no audit event
addr = struct.pack("=H", 2) + struct.pack("!H", {port}) + bytes([127, 0, 0, 1]) + bytes(8)
print("connect", libc.connect(fd, addr, len(addr)), ctypes.get_errno())
"""
    result = run_python(program, limits=FAST)
    server.close()
    assert result.status == "ok", result.stderr
    assert result.stdout.split()[:2] == ["connect", "-1"], result.stdout
