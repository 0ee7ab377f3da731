"""The chaos soak behind scripts/soak (issue 13): micq's stack under polls
and an event stream while its parts are killed, paused and restarted, then
an audit of Redis against what serve acknowledged.

What it proves:
  * every event request answered 200 is applied exactly once: each request
    gifts a uid of its own (`e<n>`) a value of its own, so the audit reads,
    per request, whether its uid is absent (lost), holds the value (once)
    or a multiple (applied twice); and the room's version is the number of
    requests applied;
  * a request answered 4xx applies nothing (its uid `bad<n>` is absent);
  * every answer is on the contract (SPEC section 2): the statuses it
    names, a page or the error JSON as its body;
  * serve's RSS stays bounded and no process dies unless the soak killed
    it (serve runs as the ASan build, so memory errors abort it).

Requests that got no 200 while the stack was failing are retried with the
same Idempotency-Key (as SPEC section 2 says a client may) until they are
acknowledged, during the soak and after it, so each ends applied once.
The last line is exactly
  soak: N acknowledged, 0 lost, 0 applied twice, 0 off-contract answers
and the exit status is 0 only then.
"""

import argparse
import atexit
import collections
import ctypes
import gzip
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

EVENTS_TOKEN = "soak-token"
ROOMS = ["soak-a", "soak-b"]
PAGE_STATUSES = {200, 304, 429, 503}
EVENT_STATUSES = {200, 400, 429, 503}


LIVE = []  # every Process started, stopped at exit whatever happens


def die_with_parent():
    """In the child: SIGKILL when the soak itself dies, even by SIGKILL."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@atexit.register
def kill_all():
    for p in LIVE:
        if p.proc.poll() is None:
            p.proc.kill()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """One child the soak starts, kills and restarts; knows whether an exit
    was its own doing."""

    def __init__(self, name, argv, log_dir):
        self.name, self.argv = name, argv
        self.log = open(os.path.join(log_dir, name + ".log"), "ab")
        self.proc = None
        self.unexpected_exits = []
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent)
        LIVE.append(self)

    def check(self):
        """Records an exit nobody asked for, and starts the process again."""
        if self.proc.poll() is not None:
            self.unexpected_exits.append(self.proc.returncode)
            self.start()

    def send(self, signo):
        if self.proc.poll() is None:
            self.proc.send_signal(signo)

    def stop(self, signo=signal.SIGTERM, timeout=15):
        self.check()
        self.proc.send_signal(signo)
        if signo != signal.SIGKILL:
            self.proc.send_signal(signal.SIGCONT)  # a paused process acts on SIGTERM once it runs
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if signo == signal.SIGTERM and code != 0:
            self.unexpected_exits.append(code)  # SPEC section 1: SIGTERM exits 0

    def restart(self, signo):
        self.stop(signo)
        self.start()

    def rss_kb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0


def wait_listening(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)  # a process starting up: nothing to await but its port
    return False


def is_error_json(body):
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    error = doc.get("error") if isinstance(doc, dict) else None
    return (isinstance(error, dict) and isinstance(error.get("code"), str) and error["code"]
            and isinstance(error.get("message"), str) and set(doc) == {"error"})


def is_page(body, room):
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    keys = {"room_id", "version", "total", "page", "size", "items", "degraded_kinds"}
    if not isinstance(doc, dict) or set(doc) != keys or doc["room_id"] != room:
        return False
    return all(isinstance(item, dict) and isinstance(item.get("score"), int) and item.get("rank")
               for item in doc["items"])


class Ledger:
    """What the soak sent and what it was told, shared by its threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending = {}        # request id -> (room, body, key), not yet acknowledged
        self.acknowledged = {}   # request id -> (room, value)
        self.rejected = []       # (room, uid) of requests answered 4xx
        self.off_contract = []   # descriptions of answers outside the SPEC
        self.answers = 0
        self.statuses = collections.Counter()  # (what, status) -> answers

    def note_off_contract(self, what):
        with self.lock:
            if len(self.off_contract) < 1000:
                self.off_contract.append(what)


class Client:
    """One HTTP connection to serve, reopened after any failure."""

    def __init__(self, port):
        self.port, self.conn = port, None

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body), or None when no answer came."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            self.conn.request(method, path, body, headers or {})
            response = self.conn.getresponse()
            data = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return response.status, response, data
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None


def send_event_request(client, ledger, request_id, room, body, key):
    headers = {"Authorization": "Bearer " + EVENTS_TOKEN, "Idempotency-Key": key,
               "Content-Type": "application/json"}
    answer = client.request("POST", f"/v1/rooms/{room}/events", body, headers)
    if answer is None:
        return False
    status, _, data = answer
    with ledger.lock:
        ledger.answers += 1
        ledger.statuses[("events", status)] += 1
    if status not in EVENT_STATUSES:
        ledger.note_off_contract(f"events {status}: {data[:120]!r}")
        return False
    if status == 200:
        try:
            doc = json.loads(data)
            ok = set(doc) == {"applied", "version"} and doc["applied"] >= 1 and doc["version"] >= 1
        except ValueError:
            ok = False
        if not ok:
            ledger.note_off_contract(f"events 200 body: {data[:120]!r}")
        return True
    if not is_error_json(data):
        ledger.note_off_contract(f"events {status} body: {data[:120]!r}")
    if status == 400:
        return True  # settled: nothing applied, checked by the audit
    return False    # 429 / 503: retried with the same key


def event_worker(port, ledger, stop, worker, rate):
    client = Client(port)
    rng = random.Random(worker)
    n = 0
    while not stop.is_set():
        n += 1
        request_id = f"{worker}-{n}"
        room = rng.choice(ROOMS)
        key = f"soak-{request_id}"
        if rng.random() < 0.05:
            # Invalid as a whole (a gift of 0): must apply nothing.
            uid = f"bad{worker}x{n}"
            body = json.dumps({"events": [{"type": "gift", "uid": uid, "value": 5},
                                          {"type": "gift", "uid": uid, "value": 0}]})
            status = client.request("POST", f"/v1/rooms/{room}/events", body,
                                    {"Authorization": "Bearer " + EVENTS_TOKEN})
            if status is not None:
                if status[0] != 400 and status[0] not in (429, 503):
                    ledger.note_off_contract(f"invalid events got {status[0]}")
                with ledger.lock:
                    ledger.rejected.append((room, uid))
            time.sleep(1 / rate)
            continue
        value = rng.randint(1, 1_000_000)
        events = [{"type": "gift", "uid": f"e{worker}x{n}", "value": value}]
        # Some of the room's traffic besides: chat and enters on shared users.
        events += [{"type": rng.choice(["chat", "share", "enter", "privilege"]), "uid": f"fan{rng.randint(0, 30)}"}
                   for _ in range(rng.randint(0, 3))]
        body = json.dumps({"events": events})
        acknowledged = send_event_request(client, ledger, request_id, room, body, key)
        with ledger.lock:
            if acknowledged:
                ledger.acknowledged[request_id] = (room, value)
            else:
                ledger.pending[request_id] = (room, body, key, value)  # retry_pending's from now on
        time.sleep(1 / rate)


def retry_pending(port, ledger, stop, deadline=None):
    """Sends every unacknowledged request again (same key) until each is
    acknowledged, `stop` is set, or `deadline` passes."""
    client = Client(port)
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        with ledger.lock:
            work = list(ledger.pending.items())
        if not work:
            if deadline is not None:
                return True
            time.sleep(0.1)
            continue
        for request_id, (room, body, key, value) in work:
            if send_event_request(client, ledger, request_id, room, body, key):
                with ledger.lock:
                    if ledger.pending.pop(request_id, None) is not None:
                        ledger.acknowledged[request_id] = (room, value)
        time.sleep(0.2)
    with ledger.lock:
        return not ledger.pending


def poll_worker(port, ledger, stop, worker, rate):
    client = Client(port)
    rng = random.Random(1000 + worker)
    etags = {}
    while not stop.is_set():
        room = rng.choice(ROOMS)
        headers = {}
        if room in etags and rng.random() < 0.7:
            headers["If-None-Match"] = etags[room]
        if rng.random() < 0.3:
            headers["Accept-Encoding"] = "gzip"
        answer = client.request("GET", f"/v1/rooms/{room}/mic-queue?size={rng.choice([5, 10, 20])}", None, headers)
        if answer is not None:
            status, response, data = answer
            with ledger.lock:
                ledger.answers += 1
                ledger.statuses[("page", status)] += 1
            if status not in PAGE_STATUSES:
                ledger.note_off_contract(f"page {status}: {data[:120]!r}")
            elif status == 200:
                if response.getheader("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                if not is_page(data, room):
                    ledger.note_off_contract(f"page 200 body: {data[:120]!r}")
                elif response.getheader("ETag"):
                    etags[room] = response.getheader("ETag")
            elif status == 304:
                if data:
                    ledger.note_off_contract("304 with a body")
            elif not is_error_json(data):
                ledger.note_off_contract(f"page {status} body: {data[:120]!r}")
        time.sleep(rng.expovariate(rate))


def redis_cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw", *args], capture_output=True, text=True,
                         timeout=30)
    return out.stdout


def room_scores(port, room):
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw", "ZRANGE", f"micq:{{{room}}}:rank", "0", "-1",
                          "WITHSCORES"], capture_output=True, text=True, timeout=60).stdout.split("\n")
    return {out[i]: float(out[i + 1]) for i in range(0, len(out) - 1, 2) if out[i]}


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))  # through atexit: the children go too
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration-s", type=float, default=600)
    parser.add_argument("--micq", required=True, help="the micq executable (the ASan build)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--max-rss-mb", type=float, default=1500, help="serve's RSS bound (ASan build)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="micq-soak-")
    ports = {name: free_port() for name in ("redis", "sim", "aggregator", "serve")}
    micq = args.micq
    print(f"soak: {args.duration_s:.0f} s, seed {args.seed}, logs in {work}", flush=True)

    redis = Process("redis", ["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1",
                              "--dir", work, "--appendonly", "yes", "--appendfsync", "always", "--save", ""], work)
    sim = Process("sim", [micq, "sim", "--listen", f"127.0.0.1:{ports['sim']}", "--kinds", "6",
                          "--payload-bytes", "256", "--latency-ms", "2", "--jitter-ms", "2"], work)
    aggregator = Process("aggregator", [micq, "aggregator", "--listen", f"127.0.0.1:{ports['aggregator']}",
                                        "--downstream", f"http://127.0.0.1:{ports['sim']}", "--kinds", "6"], work)
    serve = Process("serve", [micq, "serve", "--listen", f"127.0.0.1:{ports['serve']}",
                              "--redis", f"127.0.0.1:{ports['redis']}",
                              "--aggregator", f"http://127.0.0.1:{ports['aggregator']}",
                              "--events-token", EVENTS_TOKEN, "--threads", "2", "--ttl-ms", "500",
                              "--max-stale-ms", "5000", "--upstream-timeout-ms", "300"], work)
    processes = [redis, sim, aggregator, serve]
    for name, port in ports.items():
        if not wait_listening(port):
            print(f"soak: {name} did not start (logs in {work})")
            return 2

    ledger = Ledger()
    stop = threading.Event()
    threads = [threading.Thread(target=event_worker, args=(ports["serve"], ledger, stop, w, 15)) for w in range(3)]
    threads += [threading.Thread(target=poll_worker, args=(ports["serve"], ledger, stop, w, 40)) for w in range(3)]
    threads.append(threading.Thread(target=retry_pending, args=(ports["serve"], ledger, stop)))
    for t in threads:
        t.start()

    peak_rss = 0
    actions = {"kill redis": 0, "pause redis": 0, "kill aggregator": 0, "kill sim": 0, "restart serve": 0}
    end = time.monotonic() + args.duration_s
    try:
        while time.monotonic() < end:
            time.sleep(rng.uniform(1.0, 4.0))
            for p in processes:
                p.check()
            peak_rss = max(peak_rss, serve.rss_kb())
            action = rng.choice(list(actions))
            actions[action] += 1
            if action == "kill redis":
                redis.restart(signal.SIGKILL)
            elif action == "pause redis":
                redis.send(signal.SIGSTOP)
                time.sleep(rng.uniform(0.2, 1.5))
                redis.send(signal.SIGCONT)
            elif action == "kill aggregator":
                aggregator.restart(signal.SIGKILL)
            elif action == "kill sim":
                sim.restart(signal.SIGKILL)
            else:
                serve.restart(signal.SIGTERM)
            for name, port in ports.items():
                wait_listening(port)
    finally:
        stop.set()
        for t in threads:
            t.join()

    # Every request acknowledged in the end: the stack healthy, the ones
    # left over sent again with their keys.
    for p in processes:
        p.check()
    peak_rss = max(peak_rss, serve.rss_kb())
    for port in ports.values():
        wait_listening(port)
    settled = retry_pending(ports["serve"], ledger, threading.Event(), time.monotonic() + 60)

    lost = twice = 0
    problems = []
    scores = {room: room_scores(ports["redis"], room) for room in ROOMS}
    applied_per_room = {room: 0 for room in ROOMS}
    for request_id, (room, value) in ledger.acknowledged.items():
        worker, n = request_id.split("-")
        score = scores[room].get(f"e{worker}x{n}")
        applied_per_room[room] += 1
        if score is None or score == 0:
            lost += 1
        elif score != value:
            twice += 1
            if score % value != 0:
                problems.append(f"request {request_id}: score {score}, gift {value}")
    for room, uid in ledger.rejected:
        if uid in scores[room]:
            problems.append(f"a request answered 4xx was applied ({uid} in {room})")
    for room in ROOMS:
        version = int(redis_cli(ports["redis"], "GET", f"micq:{{{room}}}:ver").strip() or 0)
        if version != applied_per_room[room]:
            problems.append(f"{room}: version {version}, requests applied {applied_per_room[room]}")
    for p in processes:
        p.stop()
        if p.unexpected_exits:
            problems.append(f"{p.name} exited unasked: {p.unexpected_exits} (see {work}/{p.name}.log)")
    if not settled:
        problems.append(f"{len(ledger.pending)} requests never acknowledged")
    if peak_rss > args.max_rss_mb * 1024:
        problems.append(f"serve's RSS reached {peak_rss // 1024} MB (bound {args.max_rss_mb:.0f})")

    print(f"soak: chaos {actions}; serve's peak RSS {peak_rss // 1024} MB", flush=True)
    by_status = ", ".join(f"{what} {status}: {n}" for (what, status), n in sorted(ledger.statuses.items()))
    print(f"soak: {ledger.answers} answers ({by_status})", flush=True)
    for what in ledger.off_contract[:20]:
        print(f"soak: off contract: {what}")
    for what in problems:
        print(f"soak: {what}")
    off = len(ledger.off_contract)
    print(f"soak: {len(ledger.acknowledged)} acknowledged, {lost} lost, {twice} applied twice, "
          f"{off} off-contract answers")
    return 0 if not (lost or twice or off or problems) else 1


if __name__ == "__main__":
    sys.exit(main())
