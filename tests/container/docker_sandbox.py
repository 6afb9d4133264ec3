"""A throw-away Docker engine for the container tests, on a machine that has none running.

These machines have no Docker daemon and cannot pull from Docker Hub. So we start `dockerd` by hand,
with its data, exec root and socket in a temporary directory and no container network at all
(containers share the host's network), and stand in for the official base image with a Debian
bookworm root file system built by mmdebstrap and imported under the tag the Dockerfile pins.
The Dockerfile itself is built unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOOLS = ("dockerd", "docker", "mmdebstrap")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # package downloads in the build go through it


def missing_requirements() -> str | None:
    """Why a sandboxed engine cannot run here, or None if it can."""
    if os.geteuid() != 0:
        return "the container tests start dockerd, which needs root"
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        return f"{', '.join(absent)} not found: apt-get install docker.io mmdebstrap"
    return None


def base_image(dockerfile: Path) -> str:
    """The image every FROM of the Dockerfile starts from (they must all agree)."""
    bases = set(re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), flags=re.MULTILINE))
    if len(bases) != 1:
        raise ValueError(f"expected one base image, found {sorted(bases)}")
    return bases.pop()


class Engine:
    """The `docker` client bound to one sandboxed daemon."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_BUILDKIT": "0"}

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            command = " ".join(args)
            raise RuntimeError(f"docker {command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def import_debian_base(self, tag: str) -> None:
        """A stand-in for python:3.11-slim: Debian bookworm with python3, pip and venv, under `tag`."""
        rootfs = self.root / "base.tar"
        hooks = [
            f'cp {HOST_CA_BUNDLE} "$1/etc/ssl/certs/ca-certificates.crt"',
            'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
            'ln -sf /usr/bin/python3 "$1/usr/local/bin/python"; ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip"',
        ]
        command = ["mmdebstrap", "--variant=apt", "--include=python3,python3-pip,python3-venv,ca-certificates"]
        command += [f"--customize-hook={hook}" for hook in hooks]
        command += ["bookworm", str(rootfs)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed:\n{result.stderr[-4000:]}")
        self.docker("import", str(rootfs), tag, timeout=300)
        rootfs.unlink()


def mounts_under(root: Path) -> list[str]:
    with open("/proc/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    return [point for point in points if point == str(root) or point.startswith(f"{root}/")]


@contextmanager
def sandboxed_engine() -> Iterator[Engine]:
    """Start dockerd in a temporary directory; on exit stop it by its PID and leave nothing behind."""
    root = Path(tempfile.mkdtemp(prefix="cnn-dockerd-"))
    engine = Engine(root)
    log = open(root / "dockerd.log", "w")  # noqa: SIM115 - closed below, after the daemon
    daemon = subprocess.Popen(
        [
            "dockerd",
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--pidfile",
            str(root / "dockerd.pid"),
            "--host",
            f"unix://{engine.socket}",
            "--bridge=none",
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while engine.docker("info", check=False, timeout=30).returncode != 0:
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start:\n{(root / 'dockerd.log').read_text()[-4000:]}")
            time.sleep(0.5)
        yield engine
    finally:
        containers = engine.docker("ps", "-aq", check=False).stdout.split()
        if containers:
            engine.docker("rm", "-f", *containers, check=False)
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        # dockerd leaves mounts behind under its exec root (the netns mount): undo them, deepest first.
        for mount in sorted(mounts_under(root), key=len, reverse=True):
            subprocess.run(["umount", "--lazy", mount], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
