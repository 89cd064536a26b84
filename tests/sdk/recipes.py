#!/usr/bin/env python3
"""Runs the SDK part of the CI recipes (examples/ci/, docs/ci.md) against a running emulator
serving the demo data, with no container: what the recipes' containers would do, done here.

    recipes.py http://127.0.0.1:PORT

- testcontainers_test.py: its list_plugin_status(endpoint) and its test function, given the
  address instead of a container's;
- github-actions.yml: the `shell: python` step, with ECS_ENDPOINT set to the address;
- docker-compose.yml: the tests service's command, with ECS_ENDPOINT set to the address (its
  pip install finds the SDK already in this virtualenv).

Prints `PASS recipes check` or `FAIL recipes check: reason` per check; exits 1 if any failed.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
import traceback

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = os.path.join(ROOT, "examples", "ci")

results = []


def report(name, ok, detail=""):
    results.append(ok)
    print("%s recipes %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + detail),
          flush=True)


def load_yaml(name):
    with open(os.path.join(RECIPES, name), encoding="utf-8") as f:
        return yaml.safe_load(f)


def run_script(name, argv, endpoint, stdin_file=None):
    """Runs a recipe's command with this virtualenv first on PATH and ECS_ENDPOINT set."""
    env = dict(os.environ, ECS_ENDPOINT=endpoint,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120,
                            check=False, stdin=stdin_file)
    ok = result.returncode == 0 and "12 instances in cn-hangzhou" in result.stdout
    report(name, ok, "exit %d; stdout %r; stderr %r" % (
        result.returncode, result.stdout[-500:], result.stderr[-1000:]))


def testcontainers_snippet(endpoint):
    spec = importlib.util.spec_from_file_location(
        "testcontainers_test", os.path.join(RECIPES, "testcontainers_test.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    body = module.list_plugin_status(endpoint)
    report("testcontainers_test.list_plugin_status", body.total_count == 12,
           "TotalCount %r" % body.total_count)
    module.test_lists_the_demo_plugins(endpoint)
    report("testcontainers_test.test_lists_the_demo_plugins", True)


def workflow_step(endpoint):
    steps = load_yaml("github-actions.yml")["jobs"]["test"]["steps"]
    script = next(step["run"] for step in steps if step.get("shell") == "python")
    # As GitHub runs a `shell: python` step: the script in a file, `python FILE`.
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    try:
        run_script("github-actions.yml python step", [sys.executable, f.name], endpoint)
    finally:
        os.unlink(f.name)


def compose_tests_service(endpoint):
    command = load_yaml("docker-compose.yml")["services"]["tests"]["command"]
    with open(os.devnull, encoding="utf-8") as devnull:
        run_script("docker-compose.yml tests command", command, endpoint, stdin_file=devnull)


def main(argv):
    if len(argv) != 2 or not argv[1].startswith("http://"):
        print(__doc__, file=sys.stderr)
        return 2
    endpoint = argv[1][len("http://"):].rstrip("/")
    for check in (testcontainers_snippet, workflow_step, compose_tests_service):
        try:
            check(endpoint)
        except Exception as exc:  # noqa: BLE001
            report(check.__name__, False, "%s: %s %s" % (
                type(exc).__name__, exc, traceback.format_exc(limit=3)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
