"""Hostile programs in the sandbox: each is contained, gets a clear status, and leaves the machine unharmed."""

import os
import socket
import subprocess
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
    assert isolation().mode in {"netns+pidns+nobody", "userns+netns+pidns", "none"}


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
        sys.argv[0] = "{marker}"
        os.execv("/bin/sleep", ["sleep", "30", "{marker}"])
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
    assert result.status == "error" and "PermissionError" in result.stderr
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
        os.execv("/bin/sleep", ["sleep", "30", "{marker}"])
    os._exit(0)
print("spawned")
"""
    result = run_python(program, limits=FAST)
    assert result.status == "ok" and "spawned" in result.stdout
    time.sleep(0.3)
    assert processes_with(marker) == []
    assert_machine_fine()


def test_program_files_and_temp_dir_are_removed():
    result = run_python("import os\nprint(os.getcwd())\nos.chmod('.', 0)\n", limits=FAST)
    assert result.status == "ok"
    cwd = result.stdout.strip()
    assert cwd and not Path(cwd).exists()
