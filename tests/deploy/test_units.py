"""The deployment examples in deploy/ start the product as docs/run.md says.

Each command a unit or the CronJob runs is run here for real, its fixed paths (/srv/journeys,
/var/lib/journeyctl, /project) replaced by temporary ones and its secrets given in the
environment as the examples have them: the run unit and the CronJob tick, the listener unit
answers /healthz and stops cleanly on SIGTERM. `systemd-analyze verify` checks the units'
syntax where systemd is installed. The image itself is built and smoke-tested by
scripts/smoke_image.sh (CI: scripts/ci_image.sh, with docker or podman).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
UNITS = ("journeyctl-run.service", "journeyctl-run.timer", "journeyctl-listener.service")
JOURNEYCTL = Path(sys.executable).parent / "journeyctl"  # the console script of this install
SECRET = "test-only-unsubscribe-secret"


def unit(name: str) -> dict[str, dict[str, str]]:
    """A unit file's sections and keys (the last value of a repeated key)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in (SYSTEMD / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    """The examples' paths, here: a project (the stock library), a state directory."""
    project = tmp_path / "journeys"
    shutil.copytree(ROOT / "sequences", project, ignore=shutil.ignore_patterns("outbox"))
    state = tmp_path / "state"
    state.mkdir()
    return {"project": project, "state": state}


def localize(command: str, place: dict[str, Path]) -> list[str]:
    """A unit's or the CronJob's command with its paths moved under `place`."""
    words = []
    for word in shlex.split(command):
        word = word.replace("/srv/journeys/.venv/bin/journeyctl", str(JOURNEYCTL))
        word = word.replace("/srv/journeys", str(place["project"]))
        word = word.replace("/project", str(place["project"]))
        word = word.replace("/var/lib/journeyctl", str(place["state"]))
        words.append(word)
    return words


def env_of(place: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYCTL_")}
    env.update(UNSUBSCRIBE_SECRET=SECRET, JOURNEYCTL_DB=str(place["state"] / "journey.db"))
    return env


def expand(words: list[str], env: dict[str, str], pattern: str) -> list[str]:
    """${VAR} (systemd) or $(VAR) (Kubernetes) from the environment, as they expand them."""
    return [re.sub(pattern, lambda m: env[m.group(1)], w) for w in words]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for name in UNITS:
        text = (SYSTEMD / name).read_text(encoding="utf-8")
        # verify checks that ExecStart's program exists: the one this suite runs
        text = text.replace("/srv/journeys/.venv/bin/journeyctl", str(JOURNEYCTL))
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_timer_starts_the_run_unit_every_minute() -> None:
    timer = unit("journeyctl-run.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* *:*:00"
    assert timer["Install"]["WantedBy"] == "timers.target"
    service = unit("journeyctl-run.service")["Service"]
    assert service["Type"] == "oneshot" and service["User"] == "journeyctl"
    assert service["EnvironmentFile"].startswith("/etc/")  # secrets stay out of the unit


def test_the_run_unit_ticks(place: dict[str, Path]) -> None:
    service = unit("journeyctl-run.service")["Service"]
    env = env_of(place)
    cmd = expand(localize(service["ExecStart"], place), env, r"\$\{(\w+)\}")
    cwd = localize(service["WorkingDirectory"], place)[0]
    done = subprocess.run(
        [*cmd, "--now", "2026-11-01T10:00:00+09:00", "--format", "json"], cwd=cwd, env=env,
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 0
    assert (place["state"] / "journey.db").is_file()


def test_the_listener_unit_serves_and_stops_on_sigterm(place: dict[str, Path]) -> None:
    service = unit("journeyctl-listener.service")["Service"]
    assert service["KillSignal"] == "SIGTERM"
    env = env_of(place)
    cmd = expand(localize(service["ExecStart"], place), env, r"\$\{(\w+)\}")
    cmd = [w.replace("127.0.0.1:8080", "127.0.0.1:0") for w in cmd]
    proc = subprocess.Popen(
        cmd, cwd=localize(service["WorkingDirectory"], place)[0], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        url = ""
        while not url:
            line = lines.get(timeout=60)
            assert line is not None, "the listener exited before listening"
            if line.startswith("listening on "):
                url = line.split()[-1]
        with urllib.request.urlopen(url + "/healthz", timeout=30) as answer:
            assert answer.status == 200 and "last_tick_age_seconds" in json.load(answer)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def cronjob() -> dict[str, Any]:
    with (DEPLOY / "kubernetes" / "cronjob.yaml").open(encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    (job,) = [d for d in docs if d["kind"] == "CronJob"]
    return job


def test_the_cronjob_runs_one_tick_a_minute_as_the_image_user() -> None:
    job = cronjob()
    assert job["apiVersion"] == "batch/v1" and job["spec"]["schedule"] == "* * * * *"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # the Dockerfile's user and volume
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"--uid {pod['securityContext']['runAsUser']} " in dockerfile
    assert 'VOLUME ["/var/lib/journeyctl"]' in dockerfile
    assert {"name": "state", "mountPath": "/var/lib/journeyctl"} in container["volumeMounts"]
    # secrets only from a Secret, never as literal values here
    assert "env" not in container and container["envFrom"] == [
        {"secretRef": {"name": "journeyctl"}}
    ]


def test_the_cronjob_command_ticks(place: dict[str, Path]) -> None:
    (container,) = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = env_of(place)
    args = expand(localize(shlex.join(container["args"]), place), env, r"\$\((\w+)\)")
    done = subprocess.run(
        [str(JOURNEYCTL), *args, "--now", "2026-11-01T10:00:00+09:00"], env=env,
        cwd=place["state"], capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (place["state"] / "journey.db").is_file()
