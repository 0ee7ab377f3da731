#!/usr/bin/env python3
"""deploy_series_test: every series that deploy/rules.yml and the Grafana
dashboard query is one that a live stack exports.

Starts a real stack (tests/deploy/micq_stack.py), drives client load until
the lazily created series exist, reads GET /metrics of serve, the aggregator
and the sim, and checks each selector of each rule, panel query and variable
query: the metric is exported by the job its `job` matcher names (a name a
rule records, or Prometheus's own `up`, also counts), its label matchers name
labels that metric has, and an `=` matcher's value is one the stack exports
(except `status`, whose error values appear only with errors). Also checks
the dashboard's model (datasource variable, built-in panel types only) and
lints each /metrics with `promtool check metrics`.

Usage: series_test.py --micq build/micq --promtool /usr/bin/promtool
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import unittest

import yaml

import micq_stack
from promql_names import PromqlError, Selector, grafana_variable_selectors, selectors

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(REPO, "deploy", "rules.yml")
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "micq-dashboard.json")
JOBS = ("micq_serve", "micq_aggregator", "micq_sim")
# Series Prometheus makes itself for every target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = {"job", "instance"}
# Built-in Grafana panel types: the dashboard needs no plugin.
BUILTIN_PANELS = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "text", "heatmap"}

ARGS = None


def load_rules():
    with open(RULES) as f:
        return yaml.safe_load(f)


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def rule_expressions():
    """[(where, expr)] of every rule."""
    out = []
    for group in load_rules()["groups"]:
        for rule in group["rules"]:
            out.append((f"rules.yml {rule.get('record') or rule.get('alert')}", rule["expr"]))
    return out


def recorded_names():
    return {rule["record"] for group in load_rules()["groups"] for rule in group["rules"] if "record" in rule}


def dashboard_panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels inside a collapsed row


def dashboard_expressions():
    """[(where, expr)] of every panel query."""
    return [(f"dashboard panel {panel['title']!r} {target['refId']}", target["expr"])
            for panel in dashboard_panels(load_dashboard()) for target in panel.get("targets", [])]


def dashboard_variable_queries():
    out = []
    for variable in load_dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            out.append((f"dashboard variable ${variable['name']}",
                        query["query"] if isinstance(query, dict) else query))
    return out


def problems(where, found, exported, recorded):
    """What is wrong with the selectors `found` against `exported`
    ({job: {metric: {label: values}}}): a list of sentences, empty if none."""
    out = []
    for selector in found:
        if not selector.name:
            out.append(f"{where}: a selector without a metric name: {selector}")
            continue
        if selector.name in recorded:
            continue  # made by a recording rule, whose own expression is checked
        jobs = list(JOBS)
        for label, op, value in selector.matchers:
            if label == "job":
                pattern = re.compile(value if op in ("=~", "!~") else re.escape(value))
                matching = [job for job in JOBS if pattern.fullmatch(job)]
                jobs = [job for job in JOBS if job not in matching] if op.startswith("!") else matching
                if not jobs:
                    out.append(f"{where}: job{op}{value!r} selects none of {', '.join(JOBS)}")
        if not jobs:
            continue
        if selector.name in PROMETHEUS_SERIES:
            continue
        offering = [job for job in jobs if selector.name in exported[job]]
        if not offering:
            out.append(f"{where}: {selector.name} is not exported by {' or '.join(jobs)}")
            continue
        labels = {}
        for job in offering:
            for label, values in exported[job][selector.name].items():
                labels.setdefault(label, set()).update(values)
        for label, op, value in selector.matchers:
            if label in TARGET_LABELS:
                continue
            if label not in labels:
                out.append(f"{where}: {selector.name} has no label {label!r} (it has {sorted(labels)})")
            elif op == "=" and label != "status" and value not in labels[label]:
                out.append(f"{where}: {selector.name}{{{label}={value!r}}} is not exported "
                           f"(values: {sorted(labels[label])})")
    return out


class PromqlNamesTest(unittest.TestCase):
    """The tokenizer the live checks stand on."""

    def names(self, expr):
        return [s.name for s in selectors(expr)]

    def test_keeps_metric_names_and_drops_functions_aggregations_and_label_lists(self):
        self.assertEqual(self.names("sum by (job, le) (rate(a_total[5m])) / ignoring(x) group_left(y) b"),
                         ["a_total", "b"])
        self.assertEqual(self.names("histogram_quantile(0.99, sum(rate(h_bucket[1m])) without (instance))"),
                         ["h_bucket"])

    def test_reads_label_matchers_and_skips_strings_ranges_and_grafana_variables(self):
        found = selectors('rate(m{route="a,b}", instance=~"$instance"}[$__rate_interval]) > bool 0.5')
        self.assertEqual(found, [Selector("m", [("route", "=", "a,b}"), ("instance", "=~", "$instance")])])

    def test_keeps_recorded_names_with_colons_and_skips_keywords_and_numbers(self):
        self.assertEqual(self.names("a:b:rate1m > 0.05 and c > 1e3 or vector(0) unless d offset 5m"),
                         ["a:b:rate1m", "c", "d"])

    def test_label_values_variable_gives_its_selector(self):
        found, label = grafana_variable_selectors('label_values(m{job="micq_serve"}, instance)')
        self.assertEqual((found, label), ([Selector("m", [("job", "=", "micq_serve")])], "instance"))

    def test_unterminated_string_is_an_error(self):
        with self.assertRaises(PromqlError):
            selectors('m{a="b}')


class DashboardModelTest(unittest.TestCase):
    """deploy/grafana/micq-dashboard.json as Grafana imports it."""

    @classmethod
    def setUpClass(cls):
        cls.dashboard = load_dashboard()

    def test_has_a_prometheus_datasource_variable_that_every_query_uses(self):
        variables = {v["name"]: v for v in self.dashboard["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        for panel in dashboard_panels(self.dashboard):
            if panel["type"] == "row":
                continue
            self.assertEqual(panel["datasource"], {"type": "prometheus", "uid": "${datasource}"}, panel["title"])
            self.assertTrue(panel["targets"], panel["title"])
            for target in panel["targets"]:
                self.assertEqual(target["datasource"], panel["datasource"], panel["title"])

    def test_uses_only_builtin_panel_types_and_unique_ids(self):
        panels = list(dashboard_panels(self.dashboard))
        self.assertEqual({p["type"] for p in panels} - BUILTIN_PANELS, set())
        ids = [p["id"] for p in panels]
        self.assertEqual(len(ids), len(set(ids)))
        for panel in panels:
            refs = [t["refId"] for t in panel.get("targets", [])]
            self.assertEqual(len(refs), len(set(refs)), panel["title"])
        self.assertNotIn("__requires", self.dashboard)

    def test_shows_what_operators_asked_for(self):
        queries = " ".join(expr for _, expr in dashboard_expressions())
        for series in ("micq_page_rebuilds_total", "micq_aggregator_downstream_calls_total", "micq_load_waits_total",
                       "micq_cache_stale_serves_total", "micq_admission_in_flight", "micq_admission_queued",
                       "micq_admission_rejected_total", "micq_http_request_duration_seconds_bucket"):
            self.assertIn(series, queries)
        log_panels = [p["title"] for p in dashboard_panels(self.dashboard)
                      if p.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
                      .get("scaleDistribution", {}).get("type") == "log"]
        self.assertIn("Downstream calls/s (log scale)", log_panels)


class LiveSeriesTest(unittest.TestCase):
    """The names against a live stack's /metrics."""

    @classmethod
    def setUpClass(cls):
        cls.stack = micq_stack.Stack(ARGS.micq).__enter__()
        try:
            with micq_stack.Traffic(cls.stack) as traffic:
                # Series that exist only once their first request was served.
                deadline = time.monotonic() + 45
                while True:
                    cls.exposition = {job: micq_stack.http_get(port, "/metrics").body
                                      for job, port in cls.stack.ports.items()}
                    cls.exported = {job: micq_stack.metric_names(text) for job, text in cls.exposition.items()}
                    statuses = cls.exported["micq_serve"].get("micq_http_requests_total", {}).get("status", set())
                    routes = cls.exported["micq_aggregator"].get("micq_http_requests_total", {}).get("route", set())
                    if {"200", "304"} <= statuses and "privileges_batch" in routes:
                        break
                    if time.monotonic() > deadline:
                        raise AssertionError(f"the load did not bring 200s, 304s and batches within 45 s: "
                                             f"statuses {statuses}, aggregator routes {routes}, {traffic.errors}")
                    time.sleep(0.2)  # polling an HTTP API under a deadline
            if traffic.errors:
                raise AssertionError(f"client load failed: {traffic.errors[:5]}")
        except BaseException:
            cls.stack.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def check(self, expressions):
        recorded = recorded_names()
        found = []
        for where, expr in expressions:
            found += problems(where, selectors(expr), self.exported, recorded)
        self.assertEqual(found, [], "\n" + "\n".join(found))

    def test_every_rule_series_is_exported_by_its_job(self):
        self.check(rule_expressions())

    def test_every_dashboard_series_is_exported_by_its_job(self):
        self.check(dashboard_expressions())

    def test_every_dashboard_variable_query_is_exported_with_its_label(self):
        recorded, found = recorded_names(), []
        for where, query in dashboard_variable_queries():
            query_selectors, label = grafana_variable_selectors(query)
            found += problems(where, query_selectors, self.exported, recorded)
            if label and label not in TARGET_LABELS:
                found.append(f"{where}: label_values of {label!r}, not a target label")
        self.assertEqual(found, [], "\n" + "\n".join(found))

    def test_a_missing_series_a_wrong_job_and_a_wrong_label_value_are_reported(self):
        # The checker itself can fail: three selectors the stack does not export.
        found = problems("control", selectors(
            'rate(micq_no_such_series_total[1m]) + micq_privilege_batches_total{job="micq_aggregator"}'
            ' + micq_http_requests_total{job="micq_serve",route="mic-queue"}'), self.exported, set())
        self.assertEqual(len(found), 3, found)
        self.assertIn("micq_no_such_series_total is not exported", found[0])
        self.assertIn("micq_privilege_batches_total is not exported by micq_aggregator", found[1])
        self.assertIn("route='mic-queue'", found[2])

    def test_every_exposition_passes_promtool_check_metrics(self):
        for job, text in self.exposition.items():
            lint = subprocess.run([ARGS.promtool, "check", "metrics"], input=text, capture_output=True, text=True)
            self.assertEqual(lint.returncode, 0, f"{job}: {lint.stdout}{lint.stderr}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--micq", required=True)
    parser.add_argument("--promtool", default="promtool")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
