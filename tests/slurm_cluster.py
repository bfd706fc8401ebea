"""A one-node SLURM cluster on this machine, for the real-cluster test (Debian's slurm-wlm:
``slurmctld``, ``slurmd``, ``munge``; needs root).

:func:`start_cluster` writes a private ``slurm.conf`` (ports chosen free, state and logs under a
temporary directory), starts ``munged`` if it is not running, then ``slurmctld`` and
``slurmd``, and waits for the node to be idle. It raises :class:`ClusterUnavailable` with the
reason when that cannot be done. Every daemon it started is stopped by its process id.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class ClusterUnavailable(RuntimeError):
    """SLURM cannot run here (not installed, not root, a daemon does not start)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    directory: Path
    env: dict[str, str]
    pids: list[int] = field(default_factory=list)

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        result = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dict (JobState, Restarts, Reason, ...)."""
        text = self.run("scontrol", "show", "job", "-o", job_id)
        return dict(item.split("=", 1) for item in text.split() if "=" in item)

    def logs(self) -> str:
        parts = []
        for name in ("slurmctld.log", "slurmd.log"):
            path = self.directory / name
            if path.exists():
                parts.append(f"--- {name}\n" + "\n".join(path.read_text().splitlines()[-30:]))
        return "\n".join(parts)

    def stop(self) -> None:
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        self.pids.clear()


def _read_pid(path: Path, timeout: float = 10) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().split()[0])
        time.sleep(0.1)
    raise ClusterUnavailable(f"{path.name} was not written")


def start_cluster(directory: Path, cpus: int = 2) -> Cluster:
    tools = {tool: shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin") for tool in
             ("slurmctld", "slurmd", "sbatch", "scontrol", "sinfo", "munged", "munge")}
    missing = [tool for tool, path in tools.items() if path is None]
    if missing:
        raise ClusterUnavailable(f"not installed: {', '.join(missing)} (apt-get install slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        raise ClusterUnavailable("the test starts the SLURM daemons itself and needs root")
    directory.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().split(".")[0]
    conf = directory / "slurm.conf"
    conf.write_text(f"""\
ClusterName=litgen
SlurmctldHost={host}
SlurmUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
StateSaveLocation={directory}/state
SlurmdSpoolDir={directory}/spool
SlurmctldPidFile={directory}/slurmctld.pid
SlurmdPidFile={directory}/slurmd.pid
SlurmctldLogFile={directory}/slurmctld.log
SlurmdLogFile={directory}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
JobRequeue=1
KillWait=5
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
""")
    for sub in ("state", "spool"):
        (directory / sub).mkdir(exist_ok=True)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for key in [k for k in env if k.startswith("SLURM_") and k != "SLURM_CONF"]:
        del env[key]  # not inside another job
    cluster = Cluster(directory, env)

    if subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        started = subprocess.run(["runuser", "-u", "munge", "--", tools["munged"]], capture_output=True, text=True)
        if started.returncode != 0 or subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
            raise ClusterUnavailable(f"munged does not start: {started.stderr.strip()}")
        cluster.pids.append(_read_pid(Path("/run/munge/munged.pid")))
    try:
        for daemon, pid_file in (("slurmctld", "slurmctld.pid"), ("slurmd", "slurmd.pid")):
            started = subprocess.run([tools[daemon]], env=env, capture_output=True, text=True, timeout=30)
            if started.returncode != 0:
                raise ClusterUnavailable(f"{daemon} does not start: {started.stderr.strip()}\n{cluster.logs()}")
            cluster.pids.append(_read_pid(directory / pid_file))
        deadline = time.time() + 60
        while time.time() < deadline:
            state = cluster.run("sinfo", "-h", "-o", "%T", check=False).strip()
            if state == "idle":
                return cluster
            time.sleep(0.5)
        raise ClusterUnavailable(f"the node did not become idle (state {state!r})\n{cluster.logs()}")
    except BaseException:
        cluster.stop()
        raise
