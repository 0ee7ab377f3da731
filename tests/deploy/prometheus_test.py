#!/usr/bin/env python3
"""deploy_prometheus_test: the real Prometheus, configured by
deploy/prometheus.yml and deploy/rules.yml, scraping a real micq stack.

Starts a stack (tests/deploy/micq_stack.py) under client load plus one spare
sim, writes a config generated from deploy/prometheus.yml (the targets
rewritten to the stack's ports, the spare sim as a second micq_sim target,
1 s scrape and evaluation intervals, the rules file by absolute path), starts
`prometheus` on a free port with a temporary storage directory, and asks its
HTTP API: every target scraped up, the batches-per-request recording rule
has a value (fewer batches than requests: coalescing at work), every rule
evaluates without error, every dashboard query evaluates, and the spare sim,
once stopped, raises MicqTargetDown. Waits are polls of that API under a
deadline.

Usage: prometheus_test.py --micq build/micq --prometheus /usr/bin/prometheus
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.parse

import yaml

import micq_stack

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "deploy")
CONFIG = os.path.join(DEPLOY, "prometheus.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "micq-dashboard.json")
# SPEC §1: the processes' default --listen ports, which the shipped config scrapes.
DEFAULT_PORTS = {"micq_serve": 8080, "micq_aggregator": 8081, "micq_sim": 8090}
# Dashboard queries with no series on a healthy stack, and why.
EMPTY_WHEN_HEALTHY = {
    "503 and 429 answers/s": "serve creates a status series at its first such answer",
}
WAIT = 60  # seconds: a generous bound for each wait on Prometheus

ARGS = None


def load_config():
    with open(CONFIG) as f:
        return yaml.safe_load(f)


def generated_config(ports, extra_sim_ports):
    """deploy/prometheus.yml pointed at this stack, scraping every second."""
    config = load_config()
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [os.path.join(DEPLOY, name) for name in config["rule_files"]]
    for scrape in config["scrape_configs"]:
        job = scrape["job_name"]
        targets = [f"127.0.0.1:{ports[job]}"]
        if job == "micq_sim":
            targets += [f"127.0.0.1:{port}" for port in extra_sim_ports]
        scrape["static_configs"] = [{"targets": targets}]
    return config


class ShippedConfigTest(unittest.TestCase):
    def test_scrapes_each_process_at_its_default_port_and_loads_the_rules(self):
        config = load_config()
        targets = {scrape["job_name"]: [t for static in scrape["static_configs"] for t in static["targets"]]
                   for scrape in config["scrape_configs"]}
        self.assertEqual(targets, {job: [f"127.0.0.1:{port}"] for job, port in DEFAULT_PORTS.items()})
        self.assertEqual(config["rule_files"], ["rules.yml"])


class PrometheusScrapesTheStackTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.stack = micq_stack.Stack(ARGS.micq, extra_sims=1).__enter__()
        cls.traffic = None
        cls.prometheus = None
        cls.dir = tempfile.mkdtemp(prefix="micq-deploy-prometheus-")
        try:
            cls.traffic = micq_stack.Traffic(cls.stack).__enter__()
            config = os.path.join(cls.dir, "prometheus.yml")
            with open(config, "w") as f:
                yaml.safe_dump(generated_config(cls.stack.ports, cls.stack.extra_sim_ports), f)
            cls.port = micq_stack.free_port()
            cls.prometheus = micq_stack.Process("prometheus", [
                ARGS.prometheus, f"--config.file={config}", f"--storage.tsdb.path={cls.dir}/data",
                f"--web.listen-address=127.0.0.1:{cls.port}", "--log.level=info"])
            cls.prometheus.wait_for_line("Server is ready to receive web requests", WAIT)
            # Every target (the spare sim too) scraped up once: what the tests start from.
            expected = len(cls.stack.ports) + len(cls.stack.extra_sim_ports)
            def all_up():
                targets = cls.api("/api/v1/targets")["activeTargets"]
                return len(targets) == expected and all(t["health"] == "up" for t in targets)

            cls.poll(all_up, "every target scraped up")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.prometheus:
            cls.prometheus.stop()
        if cls.traffic:
            cls.traffic.__exit__(None, None, None)
        cls.stack.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def api(cls, path, **params):
        """The `data` of a Prometheus API answer; raises on an error answer."""
        target = path + ("?" + urllib.parse.urlencode(params) if params else "")
        reply = micq_stack.http_get(cls.port, target)
        answer = json.loads(reply.body)
        if reply.status != 200 or answer.get("status") != "success":
            raise AssertionError(f"GET {target}: {reply.status} {reply.body}")
        return answer["data"]

    @classmethod
    def poll(cls, probe, what):
        """probe()'s first truthy result, asking again every 0.2 s for up to
        WAIT seconds (polling an HTTP API under a deadline)."""
        deadline = time.monotonic() + WAIT
        while True:
            result = probe()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {WAIT} s; prometheus said:\n{cls.prometheus.output()}")
            time.sleep(0.2)

    def query(self, expr):
        data = self.api("/api/v1/query", query=expr)
        self.assertEqual(data["resultType"], "vector", expr)
        return data["result"]

    def test_every_target_of_the_config_is_scraped_up(self):
        targets = self.api("/api/v1/targets")["activeTargets"]
        stack_targets = {f"127.0.0.1:{port}": job for job, port in self.stack.ports.items()}
        seen = {t["labels"]["instance"]: (t["labels"]["job"], t["health"]) for t in targets}
        for instance, job in stack_targets.items():
            self.assertEqual(seen.get(instance), (job, "up"), f"{instance}: {targets}")

    def test_batches_per_request_rule_records_fewer_batches_than_requests(self):
        # A value > 0: a scrape of both jobs, a rule evaluation and some batches.
        result = self.poll(lambda: [r for r in self.query("fleet:micq_batches_per_request:ratio_rate1m")
                                    if float(r["value"][1]) > 0], "batches-per-request value above 0")
        self.assertEqual(len(result), 1, result)
        self.assertEqual(result[0]["metric"], {"__name__": "fleet:micq_batches_per_request:ratio_rate1m"})
        ratio = float(result[0]["value"][1])
        # ~50 requests/s against ~5 batches/s (one new viewer each 0.2 s):
        # coalescing and the cache keep the aggregator far below one batch a request.
        self.assertTrue(math.isfinite(ratio) and 0 < ratio < 1, ratio)
        # (Seconds after start both rates read low: rate() divides by the whole
        # minute. Their ratio does not.)
        requests = self.query("fleet:micq_mic_queue_requests:rate1m")
        self.assertGreater(float(requests[0]["value"][1]), 0, requests)
        print(f"batches per request: {ratio:.4f}", file=sys.stderr)
        self.assertEqual(self.traffic.errors, [])

    def test_every_rule_evaluates_without_error(self):
        with open(os.path.join(DEPLOY, "rules.yml")) as f:
            declared = sum(len(group["rules"]) for group in yaml.safe_load(f)["groups"])

        def evaluated():
            rules = [rule for group in self.api("/api/v1/rules")["groups"] for rule in group["rules"]]
            done = all(not rule.get("lastEvaluation", "").startswith("0001-") for rule in rules)
            return rules if done and len(rules) == declared else None

        rules = self.poll(evaluated, "evaluation of every rule")
        failed = [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"]
        self.assertEqual(failed, [])

    def test_every_dashboard_query_evaluates(self):
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        empty = []
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", "1m").replace("$instance", ".*")
                if panel["title"] in EMPTY_WHEN_HEALTHY:
                    self.query(expr)  # it must evaluate all the same
                    continue
                # Some need a few scrapes of load first: ask until they have data.
                if not self.poll_quietly(lambda: self.query(expr)):
                    empty.append(f"{panel['title']} {target['refId']}: {expr}")
        self.assertEqual(empty, [], "\n".join(empty))

    def poll_quietly(self, probe, seconds=10):
        deadline = time.monotonic() + seconds
        while True:
            result = probe()
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.2)

    def test_a_target_that_stops_raises_target_down(self):
        spare = f"127.0.0.1:{self.stack.extra_sim_ports[0]}"
        self.stack.extra_sim_processes[0].stop()

        def target_down_alert():
            alerts = self.api("/api/v1/alerts")["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "MicqTargetDown"]

        alerts = self.poll(target_down_alert, "MicqTargetDown alert")
        # Pending (its `for: 1m` has not passed) for the stopped sim alone.
        self.assertEqual([(a["labels"]["job"], a["labels"]["instance"], a["state"]) for a in alerts],
                         [("micq_sim", spare, "pending")])
        self.assertEqual(alerts[0]["labels"]["severity"], "critical")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--micq", required=True)
    parser.add_argument("--prometheus", default="prometheus")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
