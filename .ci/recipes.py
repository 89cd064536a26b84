#!/usr/bin/env python3
"""Static checks of the workflows and of the CI recipes in examples/ci/ (see docs/ci.md).

    .ci/.venv/bin/python .ci/recipes.py      (.ci/run makes the venv from .ci/requirements.txt)

- every workflow in .github/workflows/ and the recipe workflow pass actionlint, with shellcheck
  on their scripts and pyflakes on their Python steps;
- the compose file and the recipe workflow have the shape docs/ci.md describes: the emulator's
  image on port 9080 with the binary's own health check, and the tests waiting for it;
- the Dockerfile still has what the recipes rely on (the health check, port 9080);
- the Java snippet parses, where a JDK is on PATH (its dependencies are not on this machine,
  so it is not compiled).

What the recipes do at run time (their SDK calls) is checked by tests/sdk/recipes.py against the
real binary. Prints one line per check and exits 1 if any failed.
"""

import glob
import os
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
RECIPES = os.path.join(ROOT, "examples", "ci")
IMAGE = "ghcr.io/OWNER/ecs-emulator:0.1"
HEALTHCHECK = ["CMD", "/ecs-emulator", "healthcheck"]

failures = []


def check(name, ok, detail=""):
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + detail), flush=True)
    if not ok:
        failures.append(name)


def load(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return yaml.safe_load(f)


def actionlint():
    workflows = sorted(glob.glob(os.path.join(ROOT, ".github", "workflows", "*.y*ml")))
    workflows.append(os.path.join(RECIPES, "github-actions.yml"))
    for path in workflows:
        result = subprocess.run(
            [os.path.join(BIN, "actionlint"), "-oneline",
             "-shellcheck", os.path.join(BIN, "shellcheck"),
             "-pyflakes", os.path.join(BIN, "pyflakes"), path],
            capture_output=True, text=True, cwd=ROOT, check=False)
        check("actionlint %s" % os.path.relpath(path, ROOT), result.returncode == 0,
              (result.stdout + result.stderr).strip())


def compose():
    services = load("examples/ci/docker-compose.yml")["services"]
    emulator, tests = services.get("ecs-emulator", {}), services.get("tests", {})
    check("compose: the emulator's image", emulator.get("image") == IMAGE or "build" in emulator,
          repr(emulator.get("image")))
    check("compose: port 9080", emulator.get("ports") == ["9080:9080"], repr(emulator.get("ports")))
    health = emulator.get("healthcheck", {})
    check("compose: the binary's health check", health.get("test") == HEALTHCHECK,
          repr(health.get("test")))
    check("compose: health check timings", all(k in health for k in ("interval", "timeout",
                                                                      "retries")), repr(health))
    check("compose: tests wait for a healthy emulator",
          tests.get("depends_on") == {"ecs-emulator": {"condition": "service_healthy"}},
          repr(tests.get("depends_on")))
    check("compose: tests reach the emulator by its service name",
          tests.get("environment", {}).get("ECS_ENDPOINT") == "ecs-emulator:9080",
          repr(tests.get("environment")))
    check("compose: tests run a command", isinstance(tests.get("command"), list))


def workflow():
    job = load("examples/ci/github-actions.yml")["jobs"]["test"]
    service = job.get("services", {}).get("ecs-emulator", {})
    check("workflow: the emulator's image", service.get("image") == IMAGE,
          repr(service.get("image")))
    check("workflow: port 9080", service.get("ports") == ["9080:9080"], repr(service.get("ports")))
    options = service.get("options", "")
    # docker's --health-cmd runs through /bin/sh, which the image (FROM scratch) does not have.
    check("workflow: keeps the image's health check", "--health-cmd" not in options
          and "--health-interval" in options, repr(options))
    check("workflow: steps reach the emulator on 127.0.0.1:9080",
          job.get("env", {}).get("ECS_ENDPOINT") == "127.0.0.1:9080", repr(job.get("env")))
    check("workflow: a Python SDK step",
          any(step.get("shell") == "python" and "list_plugin_status" in step.get("run", "")
              for step in job.get("steps", [])))


def dockerfile():
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    check("Dockerfile: HEALTHCHECK runs the binary's healthcheck", any(
        line.startswith("HEALTHCHECK ") and line.endswith('CMD ["/ecs-emulator", "healthcheck"]')
        for line in lines))
    check("Dockerfile: serves on 0.0.0.0:9080",
          "ENV ECS_EMULATOR_LISTEN=0.0.0.0:9080" in lines and "EXPOSE 9080" in lines)


def java():
    if shutil.which("java") is None:
        print("SKIP java syntax: no java on PATH", flush=True)
        return
    result = subprocess.run(
        ["java", os.path.join(ROOT, ".ci", "JavaSyntax.java"),
         os.path.join(RECIPES, "EmulatorTest.java")],
        capture_output=True, text=True, check=False)
    check("java syntax: examples/ci/EmulatorTest.java", result.returncode == 0,
          (result.stdout + result.stderr).strip())


def main():
    actionlint()
    compose()
    workflow()
    dockerfile()
    java()
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
