"""Test harness for the deploy/ tests: a real micq stack on loopback.

A redis-server of the test's own on a free port, `micq sim`, `micq aggregator`
and `micq serve` (each on a port the kernel picks, read from its "listening
on" line), plus a client load that makes the lazily created series appear
(mic-queue 200s and 304s, events, aggregator batches). Waiting for a process
is an event: a reader thread collects its output and wakes waiters on every
line, so nothing sleeps to synchronise.

Example:
    with Stack(micq_binary) as stack:
        with Traffic(stack):
            text = http_get(stack.ports["micq_serve"], "/metrics").body

Thread safety: a Stack is driven from the test's thread; Traffic runs its own
thread and is stopped (and joined) when its `with` block ends.
"""

import http.client
import json
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

REDIS_SERVER = "/usr/bin/redis-server"
EVENTS_TOKEN = "deploy-test-token"
ROOM = "deploy"


def free_port():
    """A loopback port the kernel just handed out (free now; another process
    could take it before ours binds it, which these tests accept)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """One child process; stdout and stderr are read into `lines`."""

    def __init__(self, name, argv, cwd=None):
        self.name = name
        self.argv = argv
        self.lines = []
        self._changed = threading.Condition()
        self._popen = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, errors="replace")
        self._reader = threading.Thread(target=self._read, name=name + "-output", daemon=True)
        self._reader.start()

    def _read(self):
        for line in self._popen.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._popen.wait()
            self._changed.notify_all()

    def wait_for_line(self, needle, timeout):
        """The first line containing `needle`, waiting up to `timeout` seconds
        for it; raises with the output so far if it does not come."""
        deadline = time.monotonic() + timeout
        scanned = 0
        with self._changed:
            while True:
                for line in self.lines[scanned:]:
                    if needle in line:
                        return line
                scanned = len(self.lines)
                if self._popen.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(f"{self.name} exited ({self._popen.returncode}) before "
                                       f"printing {needle!r}:\n{self.output()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{self.name} did not print {needle!r} within {timeout} s:\n"
                                       f"{self.output()}")
                self._changed.wait(left)

    def output(self):
        return "\n".join(self.lines[-60:])

    def running(self):
        return self._popen.poll() is None

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._reader.join(5)
        if not self._reader.is_alive():
            self._popen.stdout.close()


def start_micq(micq_binary, name, args):
    """`micq <name> --listen 127.0.0.1:0 <args>`; returns (process, port)."""
    process = Process(name, [micq_binary, name, "--listen", "127.0.0.1:0", *args])
    line = process.wait_for_line("listening on 127.0.0.1:", 60)
    return process, int(line.rsplit(":", 1)[1])


class Stack:
    """redis-server, sim (4 kinds, 1 ms), aggregator and serve (cached) on
    loopback. `ports` maps the Prometheus job names of deploy/prometheus.yml
    to the ports; `extra_sims` more sims, started only to be scraped (and
    stopped) as more micq_sim targets."""

    def __init__(self, micq_binary, extra_sims=0):
        self.micq_binary = micq_binary
        self.extra_sims = extra_sims
        self.processes = []
        self.ports = {}
        self.extra_sim_processes = []

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        self._redis_dir = tempfile.TemporaryDirectory(prefix="micq-deploy-redis-")
        redis_port = free_port()
        redis = Process("redis", [REDIS_SERVER, "--port", str(redis_port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", self._redis_dir.name])
        self.processes.append(redis)
        redis.wait_for_line("Ready to accept connections", 30)

        sim, sim_port = start_micq(self.micq_binary, "sim", ["--kinds", "4", "--latency-ms", "1", "--jitter-ms", "0"])
        self.processes.append(sim)
        aggregator, aggregator_port = start_micq(
            self.micq_binary, "aggregator",
            ["--kinds", "4", "--downstream", f"http://127.0.0.1:{sim_port}", "--timeout-ms", "2000"])
        self.processes.append(aggregator)
        serve, serve_port = start_micq(
            self.micq_binary, "serve",
            ["--redis", f"127.0.0.1:{redis_port}", "--aggregator", f"http://127.0.0.1:{aggregator_port}",
             "--events-token", EVENTS_TOKEN, "--upstream-timeout-ms", "3000"])
        self.processes.append(serve)
        self.ports = {"micq_serve": serve_port, "micq_aggregator": aggregator_port, "micq_sim": sim_port}
        self.extra_sim_ports = []
        for _ in range(self.extra_sims):
            spare, spare_port = start_micq(self.micq_binary, "sim", ["--kinds", "4"])
            self.processes.append(spare)
            self.extra_sim_processes.append(spare)
            self.extra_sim_ports.append(spare_port)

    def __exit__(self, *exc):
        # Reverse order of start: serve first, Redis last.
        for process in reversed(self.processes):
            process.stop()
        self.processes = []
        if hasattr(self, "_redis_dir"):
            self._redis_dir.cleanup()
        return False


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def http_request(port, method, target, body=None, headers=None, timeout=10, connection=None):
    """One request (on `connection` if given, else a new one)."""
    own = connection is None
    if own:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace"))
    finally:
        if own:
            connection.close()


def http_get(port, target, headers=None, timeout=10):
    return http_request(port, "GET", target, headers=headers, timeout=timeout)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric_names(exposition):
    """{metric name: {label name: set of values}} of a Prometheus text
    exposition (sample lines only; histogram series as _bucket/_sum/_count)."""
    names = {}
    for line in exposition.splitlines():
        sample = _SAMPLE.match(line)
        if not sample:
            continue  # a comment (HELP, TYPE) or a blank line
        labels = names.setdefault(sample.group(1), {})
        for label, value in _LABEL.findall(sample.group(2) or ""):
            labels.setdefault(label, set()).add(value)
    return names


class Traffic:
    """Client load on serve until the `with` block ends: about 50 mic-queue
    GETs/s (every other one with If-None-Match, for 304s) and, every 0.2 s,
    a new viewer who enters and tops the ranking with a gift, so page 0
    needs that viewer's privileges: an aggregator batch."""

    def __init__(self, stack):
        self.port = stack.ports["micq_serve"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self.errors = []
        self.requests = 0

    def __enter__(self):
        # One viewer before the load starts, so the first page is not empty.
        self._post_viewer(0)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)
        return False

    def _post_viewer(self, n, connection=None):
        uid = f"viewer{n:05d}"
        body = json.dumps({"events": [{"type": "enter", "uid": uid},
                                      {"type": "gift", "uid": uid, "value": 1000 + n}]})
        reply = http_request(self.port, "POST", f"/v1/rooms/{ROOM}/events", body=body,
                             headers={"Authorization": f"Bearer {EVENTS_TOKEN}",
                                      "Content-Type": "application/json"}, connection=connection)
        if reply.status != 200:
            self.errors.append(f"POST events: {reply.status} {reply.body}")

    def _run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        etag, n, viewers = None, 0, 1
        try:
            # Pacing, not synchronisation: one request per 20 ms.
            while not self._stop.wait(0.02):
                headers = {"If-None-Match": etag} if etag and n % 2 else {}
                reply = http_request(self.port, "GET", f"/v1/rooms/{ROOM}/mic-queue", headers=headers,
                                     connection=connection)
                self.requests += 1
                if reply.status == 200:
                    etag = reply.headers.get("ETag", etag)
                elif reply.status != 304:
                    self.errors.append(f"GET mic-queue: {reply.status} {reply.body}")
                n += 1
                if n % 10 == 0:
                    self._post_viewer(viewers, connection)
                    viewers += 1
        except Exception as error:  # the test reads it from `errors`
            self.errors.append(f"traffic stopped: {error!r}")
        finally:
            connection.close()
