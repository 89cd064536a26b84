#!/usr/bin/env python3
"""Load test for a local ecs-emulator: ListPluginStatus from several keep-alive threads.

Standard library only. By default it starts nothing and sends requests to --url, which must be a
loopback address (127.0.0.1, localhost or ::1); any other host is refused.

With --spawn BINARY it starts the emulator itself (``--listen 127.0.0.1:0`` and, with --data,
``--data FILE``), learns the address from the ready line the emulator logs on stdout
("ecs-emulator ready on http://ADDR"), runs the load, reads the emulator's peak RSS (VmHWM in
/proc/PID/status, Linux only) and stops it with SIGTERM.

The request mix, round-robin per thread:
  page_first   PageNumber=1, PageSize=50 (JSON)
  page_deep    the last page by PageNumber (JSON)
  token        MaxResults=50, following the NextToken of the previous answer; restarts at the
               end of the listing
  xml          a pseudo-random page, Format=XML
  instance     one instance's plug-ins, no Name (JSON)
  error        a request the emulator must refuse with a given HTTP status and Code

Prints requests/s, responses by HTTP status, latency p50/p90/p99/max overall and per kind.
Exits 1 if any response was a 5xx or any connection failed, 3 if a response was otherwise
not what the request expected (wrong status, Code, or body), 2 on bad usage or set-up.

Examples:
  python3 scripts/load.py --spawn target/release/ecs-emulator --duration 5
  ecs-emulator generate --instances 200000 --plugins-per-instance 5 --regions 1 --seed 1 \\
      > /tmp/big.json
  python3 scripts/load.py --spawn target/release/ecs-emulator --data /tmp/big.json \\
      --region ap-northeast-1 --name ecs_tools_test
"""

import argparse
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter, deque

MAX_DURATION = 120.0
MAX_CONCURRENCY = 64
PAGE = 50
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
READY_RE = re.compile(r"ecs-emulator ready on (http://[0-9A-Za-z.:\[\]-]+)")
COMMON = {"Action": "ListPluginStatus", "Version": "2014-05-26"}


class UsageError(Exception):
    """Bad arguments or a failed set-up: exit status 2."""


def check_loopback(url):
    """Returns (host, port) of an http:// URL on a loopback host, or raises UsageError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise UsageError(f"only http:// URLs are supported, got {url!r}")
    host = parts.hostname
    if host not in LOOPBACK_HOSTS:
        raise UsageError(
            f"refusing host {host!r}: only {', '.join(sorted(LOOPBACK_HOSTS))} are allowed"
        )
    try:
        port = parts.port or 80
    except ValueError as e:
        raise UsageError(f"bad port in {url!r}: {e}") from None
    if parts.path not in ("", "/") or parts.query:
        raise UsageError(f"the URL must be the server root, got {url!r}")
    return host, port


def query(**params):
    merged = dict(COMMON)
    merged.update({k: v for k, v in params.items() if v is not None})
    return "/?" + urllib.parse.urlencode(merged)


class Target:
    """Where requests go and what they ask for."""

    def __init__(self, host, port, region, name, instance, total, instance_total):
        self.host = host
        self.port = port
        self.region = region
        self.name = name
        self.instance = instance
        self.total = total
        self.instance_total = instance_total

    @property
    def last_page(self):
        return max(1, -(-self.total // PAGE))

    @property
    def instance_last_page(self):
        return max(1, -(-self.instance_total // PAGE))


def fetch(conn, path):
    """One GET on a keep-alive connection: (status, headers dict, body bytes)."""
    conn.request("GET", path, headers={"Connection": "keep-alive"})
    response = conn.getresponse()
    body = response.read()
    return response.status, response, body


def probe(host, port, region, name, instance):
    """Checks the target answers and learns the listing's size and an instance id."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        status, _, body = fetch(
            conn,
            query(RegionId=region, Name=name, PageNumber=1, PageSize=PAGE, Format="JSON"),
        )
        if status != 200:
            raise UsageError(
                f"probe for RegionId={region} Name={name} answered {status}: "
                f"{body[:300].decode('utf-8', 'replace')} (see --region and --name)"
            )
        answer = json.loads(body)
        total = int(answer["TotalCount"])
        sets = answer["InstancePluginStatusSet"]["InstancePluginStatus"]
        if instance is None:
            if not sets:
                raise UsageError(f"no instances in {region}; give --instance")
            instance = sets[0]["InstanceId"]
        status, _, body = fetch(
            conn,
            query(
                RegionId=region,
                **{"InstanceId.1": instance},
                PageNumber=1,
                PageSize=PAGE,
                Format="JSON",
            ),
        )
        if status != 200:
            raise UsageError(
                f"probe for instance {instance} answered {status}: "
                f"{body[:300].decode('utf-8', 'replace')}"
            )
        instance_total = int(json.loads(body)["TotalCount"])
        return Target(host, port, region, name, instance, total, instance_total)
    except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
        shown = f"[{host}]" if ":" in host else host
        raise UsageError(f"cannot probe http://{shown}:{port}/: {e}") from None
    finally:
        conn.close()


class Worker(threading.Thread):
    """Sends the mix until the deadline on one keep-alive connection (reopened on failure)."""

    KINDS = ("page_first", "page_deep", "token", "xml", "instance", "error")

    def __init__(self, target, deadline, seed):
        super().__init__(daemon=True)
        self.target = target
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.latencies = {kind: [] for kind in self.KINDS}
        self.statuses = Counter()
        self.conn_failures = 0
        self.conn_errors = Counter()
        self.unexpected = Counter()
        self.unexpected_samples = []
        self.token = None
        self.token_pages = 0
        self.conn = None
        self.turn = seed

    def connect(self):
        self.conn = http.client.HTTPConnection(self.target.host, self.target.port, timeout=30)

    def request_for(self, kind):
        """(path, check) where check(status, body) -> problem or None."""
        t = self.target
        if kind == "page_first":
            path = query(RegionId=t.region, Name=t.name, PageNumber=1, PageSize=PAGE,
                         Format="JSON")
            return path, json_check(t.total, t.total > 0)
        if kind == "page_deep":
            path = query(RegionId=t.region, Name=t.name, PageNumber=t.last_page,
                         PageSize=PAGE, Format="JSON")
            return path, json_check(t.total, t.total > 0)
        if kind == "token":
            path = query(RegionId=t.region, Name=t.name, MaxResults=PAGE,
                         NextToken=self.token, Format="JSON")
            return path, self.token_check
        if kind == "xml":
            page = self.rng.randint(1, t.last_page)
            path = query(RegionId=t.region, Name=t.name, PageNumber=page, PageSize=PAGE,
                         Format="XML")
            return path, xml_check
        if kind == "instance":
            page = self.rng.randint(1, t.instance_last_page)
            path = query(RegionId=t.region, **{"InstanceId.1": t.instance}, PageNumber=page,
                         PageSize=PAGE, Format="JSON")
            return path, json_check(t.instance_total, t.instance_total > 0)
        bad = self.rng.randrange(4)
        if bad == 0:
            return query(Name=t.name, Format="JSON"), error_check(400, "MissingRegionId")
        if bad == 1:
            path = query(RegionId=t.region, Name=t.name, PageSize=0, Format="JSON")
            return path, error_check(400, "InvalidParam.PageSize")
        if bad == 2:
            path = query(RegionId=t.region, Name=t.name, NextToken="not-a-token",
                         Format="JSON")
            return path, error_check(400, "InvalidParameter.NextToken")
        path = query(RegionId=t.region, Name="no-such-plugin-load-py", Format="JSON")
        return path, error_check(404, "InvalidPluginName.NotFound")

    def token_check(self, status, body):
        if status != 200:
            self.token = None
            return f"status {status}"
        try:
            answer = json.loads(body)
        except ValueError as e:
            self.token = None
            return f"not JSON: {e}"
        self.token = answer.get("NextToken") or None
        self.token_pages = self.token_pages + 1 if self.token else 0
        if answer.get("TotalCount") != self.target.total:
            return f"TotalCount {answer.get('TotalCount')} != {self.target.total}"
        return None

    def run(self):
        self.connect()
        while time.monotonic() < self.deadline:
            kind = self.KINDS[self.turn % len(self.KINDS)]
            self.turn += 1
            path, check = self.request_for(kind)
            started = time.perf_counter()
            try:
                status, _, body = fetch(self.conn, path)
            except (OSError, http.client.HTTPException) as e:
                self.conn_failures += 1
                self.conn_errors[type(e).__name__] += 1
                self.conn.close()
                if kind == "token":
                    self.token = None
                time.sleep(0.01)
                self.connect()
                continue
            self.latencies[kind].append(time.perf_counter() - started)
            self.statuses[status] += 1
            problem = check(status, body)
            if problem:
                self.unexpected[kind] += 1
                if len(self.unexpected_samples) < 3:
                    self.unexpected_samples.append(f"{kind} {path}: {problem}")
        self.conn.close()


def json_check(total, expect_rows):
    def check(status, body):
        if status != 200:
            return f"status {status}: {body[:200]!r}"
        try:
            answer = json.loads(body)
        except ValueError as e:
            return f"not JSON: {e}"
        if answer.get("TotalCount") != total:
            return f"TotalCount {answer.get('TotalCount')} != {total}"
        sets = answer.get("InstancePluginStatusSet", {}).get("InstancePluginStatus", [])
        if expect_rows and not sets:
            return "empty page"
        return None

    return check


def xml_check(status, body):
    if status != 200:
        return f"status {status}: {body[:200]!r}"
    if not body.startswith(b"<?xml") or b"<TotalCount>" not in body:
        return f"not the XML answer: {body[:200]!r}"
    return None


def error_check(want_status, want_code):
    def check(status, body):
        if status != want_status:
            return f"status {status}, wanted {want_status}: {body[:200]!r}"
        try:
            code = json.loads(body).get("Code")
        except ValueError as e:
            return f"not JSON: {e}"
        if code != want_code:
            return f"Code {code!r}, wanted {want_code!r}"
        return None

    return check


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (0 < p <= 100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def ms(seconds):
    return f"{seconds * 1000:8.2f}"


class Emulator:
    """An emulator process started by --spawn."""

    def __init__(self, binary, data, ready_timeout, log_level):
        command = [binary, "--listen", "127.0.0.1:0"]
        if data:
            command += ["--data", data]
        env = dict(os.environ)
        if log_level:
            env["RUST_LOG"] = log_level
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                env=env,
            )
        except OSError as e:
            raise UsageError(f"cannot start {binary}: {e}") from None
        self.lines = 0
        self.tail = deque(maxlen=20)
        self.url = None
        started = time.monotonic()
        ready = threading.Event()

        def drain():
            # Reads every line so the emulator never blocks on a full pipe.
            for raw in self.process.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines += 1
                self.tail.append(line)
                if self.url is None:
                    found = READY_RE.search(line)
                    if found:
                        self.url = found.group(1)
                        ready.set()
            ready.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        if not ready.wait(ready_timeout) or self.url is None:
            if ready.is_set():
                # Its stdout closed: it is exiting; give it a moment to report its status.
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            code = self.process.poll()
            self.stop()
            state = f"exited with {code}" if code is not None else "timed out"
            tail = "\n  ".join(self.tail) or "(no output)"
            raise UsageError(f"{binary} {state} before its ready line; last output:\n  {tail}")
        self.startup_seconds = time.monotonic() - started

    def memory(self):
        """{'VmHWM': kB, 'VmRSS': kB} from /proc, or {} where not available."""
        found = {}
        try:
            with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
                for line in status:
                    key, _, value = line.partition(":")
                    if key in ("VmHWM", "VmRSS"):
                        found[key] = int(value.split()[0])
        except (OSError, ValueError):
            pass
        return found

    def stop(self):
        """SIGTERM, wait for the graceful shutdown, SIGKILL if it hangs; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=5)
        return self.process.returncode


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Load test for a local ecs-emulator (ListPluginStatus).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--url", default="http://127.0.0.1:9080",
                        help="emulator root on a loopback host (default %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help=f"seconds of load (default %(default)s, capped at {MAX_DURATION:g})")
    parser.add_argument("--concurrency", type=int, default=8,
                        help=f"threads, one connection each (default %(default)s, "
                             f"capped at {MAX_CONCURRENCY})")
    parser.add_argument("--region", default="cn-hangzhou",
                        help="RegionId (default %(default)s; ap-northeast-1 for "
                             "`generate --regions 1`)")
    parser.add_argument("--name", default="ecs_tools_test",
                        help="plug-in Name (default %(default)s)")
    parser.add_argument("--instance",
                        help="instance for the no-Name requests (default: the first listed)")
    parser.add_argument("--spawn", metavar="BINARY",
                        help="start this emulator binary on 127.0.0.1:0 and stop it afterwards")
    parser.add_argument("--data", metavar="FILE",
                        help="with --spawn: fixture file passed as --data")
    parser.add_argument("--ready-timeout", type=float, default=180.0,
                        help="with --spawn: seconds to wait for the ready line "
                             "(default %(default)s)")
    parser.add_argument("--log-level", metavar="RUST_LOG",
                        help="with --spawn: RUST_LOG for the emulator, e.g. warn to leave out "
                             "the per-request log lines (default: inherited)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the page choices")
    args = parser.parse_args(argv)
    if not args.duration > 0:
        parser.error("--duration must be more than 0")
    if args.duration > MAX_DURATION:
        print(f"load.py: --duration capped at {MAX_DURATION:g} s", file=sys.stderr)
        args.duration = MAX_DURATION
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.concurrency > MAX_CONCURRENCY:
        print(f"load.py: --concurrency capped at {MAX_CONCURRENCY}", file=sys.stderr)
        args.concurrency = MAX_CONCURRENCY
    if args.data and not args.spawn:
        parser.error("--data needs --spawn")
    if args.log_level and not args.spawn:
        parser.error("--log-level needs --spawn")
    return args


def run_load(target, args):
    deadline = time.monotonic() + args.duration
    workers = [Worker(target, deadline, args.seed * 1000 + i) for i in range(args.concurrency)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return workers, time.monotonic() - started


def report(workers, elapsed):
    statuses = Counter()
    unexpected = Counter()
    conn_errors = Counter()
    samples = []
    by_kind = {kind: [] for kind in Worker.KINDS}
    for worker in workers:
        statuses.update(worker.statuses)
        unexpected.update(worker.unexpected)
        conn_errors.update(worker.conn_errors)
        samples.extend(worker.unexpected_samples)
        for kind, values in worker.latencies.items():
            by_kind[kind].extend(values)
    conn_failures = sum(w.conn_failures for w in workers)
    everything = sorted(v for values in by_kind.values() for v in values)
    count = len(everything)
    print(f"requests:      {count} in {elapsed:.2f} s = {count / elapsed:.1f} requests/s "
          f"({len(workers)} connections)")
    print("by status:     " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    errors = {s: n for s, n in statuses.items() if s >= 400}
    print("errors:        " + (", ".join(f"HTTP {s}: {n}" for s, n in sorted(errors.items()))
                               or "none") + "  (the 'error' kind expects 400/404)")
    print(f"conn failures: {conn_failures}"
          + (f" ({', '.join(f'{k}: {n}' for k, n in conn_errors.items())})" if conn_errors
             else ""))
    print(f"unexpected:    {sum(unexpected.values())}"
          + (f" ({', '.join(f'{k}: {n}' for k, n in unexpected.items())})" if unexpected
             else ""))
    for sample in samples[:5]:
        print(f"  e.g. {sample}")
    print(f"latency ms     {'count':>8} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}")
    rows = [(kind, sorted(values)) for kind, values in by_kind.items()] + [("all", everything)]
    for kind, values in rows:
        if not values:
            continue
        print(f"  {kind:<12} {len(values):8d} {ms(percentile(values, 50))} "
              f"{ms(percentile(values, 90))} {ms(percentile(values, 99))} {ms(values[-1])}")
    five_xx = sum(n for s, n in statuses.items() if s >= 500)
    if five_xx or conn_failures:
        return 1
    if unexpected or count == 0:
        return 3
    return 0


def main(argv):
    args = parse_args(argv)
    emulator = None
    try:
        if args.spawn:
            emulator = Emulator(args.spawn, args.data, args.ready_timeout, args.log_level)
            url = emulator.url
            print(f"spawned:       {args.spawn} (pid {emulator.process.pid}) on {url}, "
                  f"ready after {emulator.startup_seconds:.2f} s")
        else:
            url = args.url
        host, port = check_loopback(url)
        target = probe(host, port, args.region, args.name, args.instance)
        print(f"target:        {url} RegionId={target.region} Name={target.name}: "
              f"{target.total} records, last page {target.last_page}; "
              f"InstanceId {target.instance}: {target.instance_total} plug-ins")
        workers, elapsed = run_load(target, args)
        status = report(workers, elapsed)
        if emulator:
            memory = emulator.memory()
            if memory:
                print(f"emulator RSS:  peak (VmHWM) {memory.get('VmHWM', 0) / 1024:.1f} MiB, "
                      f"now (VmRSS) {memory.get('VmRSS', 0) / 1024:.1f} MiB")
            else:
                print("emulator RSS:  not available (no /proc)")
        return status
    except UsageError as e:
        print(f"load.py: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("load.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if emulator:
            code = emulator.stop()
            print(f"emulator:      stopped with exit status {code}, "
                  f"{emulator.lines} log lines")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
