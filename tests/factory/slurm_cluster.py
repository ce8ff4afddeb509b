"""A real one-node Slurm cluster for the executor tests: munged + slurmctld + slurmd, config in a temp dir.

Debian's slurm-wlm and munge (installed by .ci/slurm-setup, idempotent) run here as root with no
cgroups (proctrack/linuxproc, task/none), a 5 s credential lifetime (Slurm holds a requeued job back
that long; 120 s by default) and no accounting database: the factory's Slurm engine then
reads job states from squeue, as on a small cluster without slurmdbd. `start(folder)` returns the
environment (SLURM_CONF) the client commands need and a `stop()` that ends exactly the daemons it
started, by their pid files. `unavailable()` says why a cluster cannot run here, or None.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")


def unavailable() -> str | None:
    missing = [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        return f"Slurm/munge not installed ({', '.join(missing)} missing; run .ci/slurm-setup as root)"
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs as the submitting user"
    return None


def _bin(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path, cpus: int = 2) -> tuple[dict[str, str], callable]:
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("munge", "state", "spool", "log"):
        (folder / sub).mkdir(exist_ok=True)
    os.chmod(folder, 0o755)
    key = folder / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    sock = folder / "munge" / "socket"
    subprocess.run([_bin("munged"), f"--key-file={key}", f"--socket={sock}", f"--pid-file={folder}/munge/pid",
                    f"--log-file={folder}/munge/log", f"--seed-file={folder}/munge/seed", "--force"],
                   check=True, capture_output=True)
    host = socket.gethostname().split(".")[0]
    ctld_port, d_port = _free_port(), _free_port()
    conf = folder / "slurm.conf"
    conf.write_text(f"""\
ClusterName=factorytest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={sock},cred_expire=5
CredType=cred/munge
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
KillWait=2
MinJobAge=600
NodeName={host} CPUs={cpus} RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
""")
    env = {"SLURM_CONF": str(conf)}
    full = {**os.environ, **env}

    def stop() -> None:
        """Drain the queue first (a job step whose slurmd is gone never ends), then stop the daemons."""
        subprocess.run(["scancel", "--full", "--partition=debug"], env=full, capture_output=True)
        deadline = time.time() + 30
        while time.time() < deadline and subprocess.run(["squeue", "--noheader"], env=full, capture_output=True,
                                                         text=True).stdout.strip():
            time.sleep(0.3)
        for pidfile in ("slurmd.pid", "slurmctld.pid", "munge/pid"):
            try:
                pid = int((folder / pidfile).read_text().strip())
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                continue
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.1)

    try:
        subprocess.run([_bin("slurmctld"), "-c", "-f", str(conf)], check=True, env=full, capture_output=True)
        subprocess.run([_bin("slurmd"), "-f", str(conf)], check=True, env=full, capture_output=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "--noheader", "-o", "%T"], env=full, capture_output=True, text=True)
            if out.stdout.strip() in ("idle", "mixed", "allocated"):
                return env, stop
            time.sleep(0.3)
        raise RuntimeError(f"slurm node never became idle: {out.stdout} {out.stderr}; logs in {folder}/log")
    except BaseException:
        stop()
        raise
