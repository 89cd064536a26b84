#!/usr/bin/env python3
"""Soak test for a local ecs-emulator: API reads mixed with control-plane writes and resets.

Standard library only; spawning, the loopback check, the query builder and the probe come from
scripts/load.py. Bounded in time (--seconds, at most 600) and in requests (--max-requests), it
stops by itself. Like load.py it either starts the emulator itself (--spawn BINARY, on
127.0.0.1:0) or talks to --url, which must be a loopback address.

Each of --connections threads keeps one keep-alive connection and picks, at random (seeded):
  API reads      JSON and XML pages, NextToken walks to the end, one instance's plug-ins, a
                 POST form request with a 100 KB value, and bad requests that must be refused
                 with their documented 4xx code
  control plane  PUT a plug-in, lifecycle events (a 409 for a transition that does not apply
                 is expected), fault rules (Throttling.User, 400, and small latencies: no 5xx
                 code is ever injected) added and deleted, a look at the journal, and now and
                 then POST /_emulator/reset

It reports requests served, responses by status, 5xx responses (must be 0), answers of injected
faults (counted apart), connection failures, answers that were not what the request expected,
and the emulator's resident memory at start, at end and at peak (spawned emulator, Linux).
Exits 1 on any 5xx or connection failure, 3 on an unexpected answer, 2 on bad usage.

Examples:
  python3 scripts/soak.py --spawn target/release/ecs-emulator --seconds 60 --connections 64
  python3 scripts/soak.py --spawn target/debug/ecs-emulator --seconds 10 --connections 16
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the shared spawning, loopback check, query builder and probe)

MAX_SECONDS = 600.0
MAX_CONNECTIONS = 256
PAGE = 50
EVENTS = ("install", "start", "stop", "crash", "remove", "heartbeat")
# Kinds and their weights: reads dominate, writes are frequent, resets rare.
KINDS = (
    ("json_page", 20),
    ("xml_page", 10),
    ("token_walk", 8),
    ("instance", 10),
    ("post_form", 4),
    ("bad", 10),
    ("put_plugin", 10),
    ("event", 14),
    ("fault", 6),
    ("journal", 3),
    ("reset", 1),
)


def memory(pid):
    """{'VmRSS': kB, 'VmHWM': kB} of a process from /proc, {} where not available."""
    found = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    found[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return found


class Soaker(threading.Thread):
    """One connection's worth of the mix, until the deadline or the shared request budget."""

    def __init__(self, target, deadline, budget, seed):
        super().__init__(daemon=True)
        self.target = target
        self.deadline = deadline
        self.budget = budget
        self.rng = random.Random(seed)
        self.me = seed
        self.kinds = [k for k, _ in KINDS]
        self.weights = [w for _, w in KINDS]
        self.statuses = Counter()
        self.by_kind = Counter()
        self.injected = 0
        self.conn_failures = 0
        self.conn_errors = Counter()
        self.unexpected = Counter()
        self.samples = []
        self.five_xx_samples = []
        self.conn = None

    def connect(self):
        self.conn = http.client.HTTPConnection(self.target.host, self.target.port, timeout=30)

    def send(self, method, path, body=None, content_type=None):
        """One request; (status, body bytes), or None after a connection failure."""
        headers = {"Connection": "keep-alive"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn_failures += 1
            self.conn_errors[type(e).__name__] += 1
            self.conn.close()
            time.sleep(0.01)
            self.connect()
            return None
        self.statuses[response.status] += 1
        if response.status >= 500 and len(self.five_xx_samples) < 3:
            self.five_xx_samples.append(f"{method} {path[:120]}: {data[:200]!r}")
        return response.status, data

    def expect(self, kind, what, answer, allowed, code=None):
        """Records an answer whose status is not in `allowed` (or whose Code is not `code`)."""
        if answer is None:
            return
        status, data = answer
        problem = None
        if status not in allowed:
            problem = f"status {status}, wanted {sorted(allowed)}: {data[:200]!r}"
        elif code is not None:
            try:
                got = json.loads(data).get("Code")
            except ValueError as e:
                got = f"not JSON: {e}"
            if got != code:
                problem = f"Code {got!r}, wanted {code!r}"
        if problem:
            self.unexpected[kind] += 1
            if len(self.samples) < 5:
                self.samples.append(f"{kind} {what[:120]}: {problem}")

    def api(self, **params):
        return load.query(RegionId=self.target.region, **params)

    def run_one(self, kind):
        t = self.target
        if kind == "json_page":
            page = self.rng.randint(1, max(1, -(-t.total // PAGE)) + 1)
            path = self.api(Name=t.name, PageNumber=page, PageSize=PAGE, Format="JSON")
            self.expect(kind, path, self.send("GET", path), {200})
        elif kind == "xml_page":
            path = self.api(Name=t.name, PageNumber=1, PageSize=self.rng.randint(1, 50),
                            Format="XML")
            answer = self.send("GET", path)
            self.expect(kind, path, answer, {200})
            if answer and answer[0] == 200 and not answer[1].startswith(b"<?xml"):
                self.expect(kind, path, (0, answer[1]), {200})
        elif kind == "token_walk":
            token, pages = None, 0
            while pages < 20:
                path = self.api(Name=t.name, MaxResults=self.rng.randint(1, 10),
                                NextToken=token, Format="JSON")
                answer = self.send("GET", path)
                self.expect(kind, path, answer, {200})
                if not answer or answer[0] != 200:
                    break
                token = json.loads(answer[1]).get("NextToken")
                pages += 1
                if not token:
                    break
        elif kind == "instance":
            # A fault rule on this instance may answer Throttling.User (400): counted apart.
            path = self.api(**{"InstanceId.1": t.instance}, Format="JSON")
            answer = self.send("GET", path)
            if answer and answer[0] == 400 and b"Throttling.User" in answer[1]:
                self.injected += 1
            else:
                self.expect(kind, path, answer, {200})
        elif kind == "post_form":
            body = urllib.parse.urlencode({
                **load.COMMON, "RegionId": t.region, "Name": t.name, "Format": "JSON",
                "Pad": "p" * 100_000,
            })
            answer = self.send("POST", "/", body=body,
                               content_type="application/x-www-form-urlencoded")
            self.expect(kind, "POST /", answer, {200})
        elif kind == "bad":
            self.bad_request(kind)
        elif kind == "put_plugin":
            name = f"soak-{self.me}-{self.rng.randrange(4)}"
            body = json.dumps({"version": f"1.{self.rng.randrange(10)}",
                               "status": self.rng.choice(["Running", "Stopped", "Installed"])})
            path = f"/_emulator/instances/{t.instance}/plugins/{name}"
            self.expect(kind, path, self.send("PUT", path, body, "application/json"),
                        {200, 201})
        elif kind == "event":
            name = f"soak-{self.me}-{self.rng.randrange(4)}"
            event = self.rng.choice(EVENTS)
            path = f"/_emulator/instances/{t.instance}/plugins/{name}/{event}"
            # 409: the event does not apply in the plug-in's state; 404: a reset took it away.
            self.expect(kind, path, self.send("POST", path, "{}", "application/json"),
                        {200, 201, 404, 409})
        elif kind == "fault":
            rule = self.rng.choice([
                {"instanceId": t.instance, "code": "Throttling.User", "times": 1},
                {"instanceId": t.instance, "latencyMs": self.rng.randint(1, 20), "times": 2},
            ])
            answer = self.send("POST", "/_emulator/faults", json.dumps(rule),
                               "application/json")
            self.expect(kind, "POST /_emulator/faults", answer, {201})
            if answer and answer[0] == 201 and self.rng.random() < 0.5:
                rule_id = json.loads(answer[1])["id"]
                # 404 when a reset or another thread's clear came first.
                self.expect(kind, "DELETE fault", self.send(
                    "DELETE", f"/_emulator/faults/{rule_id}"), {204, 404})
        elif kind == "journal":
            answer = self.send("GET", "/_emulator/requests?limit=5")
            self.expect(kind, "GET /_emulator/requests", answer, {200})
        elif kind == "reset":
            self.expect(kind, "POST /_emulator/reset", self.send("POST", "/_emulator/reset"),
                        {200})

    def bad_request(self, kind):
        t = self.target
        cases = [
            (load.query(Name=t.name, Format="JSON"), 400, "MissingRegionId"),
            (self.api(Name=t.name, PageSize=0, Format="JSON"), 400, "InvalidParam.PageSize"),
            (self.api(Name=t.name, NextToken="soak-not-a-token", Format="JSON"), 400,
             "InvalidParameter.NextToken"),
            (self.api(Name="n" * 300, Format="JSON"), 400, "InvalidParameter"),
            ("/?" + urllib.parse.urlencode({"Action": "NoSuchAction", "Version": "2014-05-26",
                                            "Format": "JSON"}), 404, "InvalidAction.NotFound"),
            ("/?" + urllib.parse.urlencode({"Action": "ListPluginStatus", "Version": "2000-01-01",
                                            "Format": "JSON"}), 400, "InvalidVersion"),
            (self.api(Name=t.name, Format="JSON") + "&PageSize=%G1", 400, "InvalidParameter"),
        ]
        path, status, code = self.rng.choice(cases)
        self.expect(kind, path, self.send("GET", path), {status}, code)

    def run(self):
        self.connect()
        while time.monotonic() < self.deadline and self.budget.take():
            kind = self.rng.choices(self.kinds, self.weights)[0]
            self.by_kind[kind] += 1
            self.run_one(kind)
        self.conn.close()


class Budget:
    """The shared count of request mixes left (--max-requests)."""

    def __init__(self, total):
        self.left = total
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Soak test for a local ecs-emulator: API reads, control-plane writes, resets.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--url", default="http://127.0.0.1:9080",
                        help="emulator root on a loopback host (default %(default)s)")
    parser.add_argument("--spawn", metavar="BINARY",
                        help="start this emulator binary on 127.0.0.1:0 and stop it afterwards")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help=f"how long (default %(default)s, at most {MAX_SECONDS:g})")
    parser.add_argument("--connections", type=int, default=64,
                        help=f"threads, one keep-alive connection each (default %(default)s, "
                             f"at most {MAX_CONNECTIONS})")
    parser.add_argument("--max-requests", type=int, default=10_000_000,
                        help="stop after this many request mixes in all (default %(default)s)")
    parser.add_argument("--region", default="cn-hangzhou", help="RegionId (default %(default)s)")
    parser.add_argument("--name", default="ecs_tools_test", help="plug-in Name (default %(default)s)")
    parser.add_argument("--ready-timeout", type=float, default=60.0,
                        help="with --spawn: seconds to wait for the ready line")
    parser.add_argument("--seed", type=int, default=1, help="seed of the choices")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be more than 0 and at most {MAX_SECONDS:g}")
    if not 1 <= args.connections <= MAX_CONNECTIONS:
        parser.error(f"--connections must be 1 to {MAX_CONNECTIONS}")
    if args.max_requests < 1:
        parser.error("--max-requests must be at least 1")
    return args


def mib(kb):
    return f"{kb / 1024:.1f} MiB" if kb else "n/a"


def main(argv):
    args = parse_args(argv)
    emulator = None
    try:
        if args.spawn:
            # warn: the per-request info lines would cost more than the requests.
            emulator = load.Emulator(args.spawn, None, args.ready_timeout, "warn")
            url = emulator.url
            print(f"spawned:       {args.spawn} (pid {emulator.process.pid}) on {url}")
        else:
            url = args.url
        host, port = load.check_loopback(url)
        target = load.probe(host, port, args.region, args.name, None)
        start_memory = memory(emulator.process.pid) if emulator else {}
        deadline = time.monotonic() + args.seconds
        budget = Budget(args.max_requests)
        workers = [Soaker(target, deadline, budget, args.seed * 1000 + i)
                   for i in range(args.connections)]
        started = time.monotonic()
        peak_sampled = start_memory.get("VmRSS", 0)
        for worker in workers:
            worker.start()
        while any(w.is_alive() for w in workers):
            time.sleep(0.5)
            if emulator:
                peak_sampled = max(peak_sampled, memory(emulator.process.pid).get("VmRSS", 0))
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - started
        end_memory = memory(emulator.process.pid) if emulator else {}
        return report(workers, elapsed, start_memory, end_memory, peak_sampled)
    except load.UsageError as e:
        print(f"soak.py: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("soak.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if emulator:
            code = emulator.stop()
            print(f"emulator:      stopped with exit status {code}")


def report(workers, elapsed, start_memory, end_memory, peak_sampled):
    statuses, by_kind, unexpected, conn_errors = Counter(), Counter(), Counter(), Counter()
    samples, five_xx_samples = [], []
    for w in workers:
        statuses.update(w.statuses)
        by_kind.update(w.by_kind)
        unexpected.update(w.unexpected)
        conn_errors.update(w.conn_errors)
        samples.extend(w.samples)
        five_xx_samples.extend(w.five_xx_samples)
    served = sum(statuses.values())
    injected = sum(w.injected for w in workers)
    conn_failures = sum(w.conn_failures for w in workers)
    five_xx = sum(n for s, n in statuses.items() if s >= 500)
    print(f"requests:      {served} served in {elapsed:.1f} s = {served / elapsed:.0f}/s "
          f"({len(workers)} connections)")
    print("by status:     " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    print("by kind:       " + ", ".join(f"{k}: {n}" for k, n in sorted(by_kind.items())))
    print(f"5xx:           {five_xx}")
    for sample in five_xx_samples[:3]:
        print(f"  e.g. {sample}")
    print(f"injected:      {injected} Throttling.User answers of fault rules (400, not failures)")
    print(f"conn failures: {conn_failures}"
          + (f" ({', '.join(f'{k}: {n}' for k, n in conn_errors.items())})" if conn_errors
             else ""))
    print(f"unexpected:    {sum(unexpected.values())}"
          + (f" ({', '.join(f'{k}: {n}' for k, n in unexpected.items())})" if unexpected
             else ""))
    for sample in samples[:5]:
        print(f"  e.g. {sample}")
    if start_memory:
        print(f"emulator RSS:  start {mib(start_memory.get('VmRSS'))}, "
              f"end {mib(end_memory.get('VmRSS'))}, "
              f"peak {mib(max(end_memory.get('VmHWM', 0), peak_sampled))}")
    if five_xx or conn_failures:
        return 1
    if unexpected or served == 0:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
