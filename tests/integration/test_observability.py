"""What an operator installs beside redscope: the Grafana dashboard
(deploy/grafana/redscope-dashboard.json) and the recording rules and alerts
(deploy/prometheus/redscope-rules.yaml), with their Kubernetes copies (a ConfigMap for
Grafana's dashboard sidecar, a PrometheusRule for the Prometheus Operator).

Offline: promtool checks the rules and runs their unit tests (each alert firing and not
firing on synthetic series); the Kubernetes copies are the files; the dashboard passes
Grafana's published dashboard schema (@grafana/schema) and the rules Grafana needs to
import it.

Live: the demo stack (the gunicorn + Django polls app under locust, redscope, a real
Prometheus with the rules loaded) answers every dashboard panel's query, its variables
substituted as Grafana would, with series of the shape the panel shows; every recording
rule records series; a pool saturated by slow requests, with the 5xx endpoint at a
quarter of its load, makes the matching alerts go pending; stopping redscope makes
RedscopeDown go pending.
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from conftest import (APPS, CLIENT_CPUS, ROOT, SERVER_CPUS, Prometheus, Redscope, pinned,
                      skip_reason, wait_for)
from test_deploy import validator  # noqa: F401  (the fixture: the npm-installed validators)

import stack  # the demo's own launcher (conftest puts it on the path)

RULES = ROOT / "deploy" / "prometheus" / "redscope-rules.yaml"
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yaml"))
PROMETHEUSRULE = ROOT / "deploy" / "prometheus" / "prometheusrule.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "redscope-dashboard.json"
README = ROOT / "README.md"
DS_REF = {"type": "prometheus", "uid": "${datasource}"}
K8S_LABELS = {"k8s_namespace_name", "k8s_pod_name", "k8s_container_name"}
# Grafana's own variables a query may use
GRAFANA_GLOBALS = {"__rate_interval", "__range", "__interval", "__field", "__url_time_range"}
# kubectl apply (client side) keeps the object in an annotation; annotations hold 256 KiB
ANNOTATION_LIMIT = 262144


def run(cmd, timeout=120, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def load_rules():
    return yaml.safe_load(RULES.read_text())


def all_rules():
    return [r for g in load_rules()["groups"] for r in g["rules"]]


def load_dashboard():
    return json.loads(DASHBOARD.read_text())


def panels(dashboard):
    """Every panel, rows included, and the panels inside collapsed rows."""
    out = []
    for p in dashboard["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def queries(dashboard):
    """(panel, target) of every panel that queries."""
    return [(p, t) for p in panels(dashboard) if p["type"] != "row" for t in p["targets"]]


# --------------------------------------------------------------------------------------
# rules, offline


def test_promtool_checks_the_rules():
    out = run(["promtool", "check", "rules", str(RULES)])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: %d rules found" % len(all_rules()) in out.stdout, out.stdout


def test_promtool_unit_tests_of_the_rules_pass():
    assert RULE_TESTS, "no promtool unit tests in deploy/prometheus/tests"
    out = run(["promtool", "test", "rules"] + [str(t) for t in RULE_TESTS])
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("SUCCESS") == len(RULE_TESTS), out.stdout


def test_every_alert_is_unit_tested_firing_and_not_firing():
    fires, silent = set(), set()
    for path in RULE_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    alerts = {r["alert"] for r in all_rules() if "alert" in r}
    assert alerts - fires == set(), "never shown firing"
    assert alerts - silent == set(), "never shown not firing"


def test_every_recording_rule_is_unit_tested():
    exprs = " ".join(case["expr"] for path in RULE_TESTS
                     for group in yaml.safe_load(path.read_text())["tests"]
                     for case in group.get("promql_expr_test", []))
    records = {r["record"] for r in all_rules() if "record" in r}
    untested = {r for r in records if not re.search(r"\b%s\b" % re.escape(r), exprs)}
    assert not untested


# The levels of the record names, and the labels each keeps
LEVELS = {
    "namespace_service": {"k8s_namespace_name", "service_name"},
    "namespace_service_route": {"k8s_namespace_name", "service_name", "http_route"},
    "namespace_service_method": {"k8s_namespace_name", "service_name", "rpc_method"},
}


def test_recording_rules_are_named_level_metric_operations_after_what_they_keep():
    recorded = []
    for group in load_rules()["groups"]:
        for rule in group["rules"]:
            if "record" not in rule:
                continue
            name, expr = rule["record"], rule["expr"]
            assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name), name
            level, metric, ops = name.split(":")
            assert metric.startswith(("http_server_", "rpc_server_")), name
            assert re.search(r"(^|_)(rate5m|sum|histogram_quantile_rate5m)$", ops), name
            # the recorded series it reads: recorded before it (rules of a group are
            # evaluated in order)
            inputs = re.findall(r"\b([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b", expr)
            assert set(inputs) <= set(recorded), (name, inputs)
            groupings = re.findall(r"\bby \(([^)]*)\)", expr)
            base = re.sub(r"_quantile$", "", level)
            if level != base:
                q = rule["labels"]["quantile"]
                assert expr.startswith("histogram_quantile(%s," % q), name
                # of the bucket rates of the same level, without the quantile
                assert inputs == ["%s:%s_bucket:rate5m" % (base, metric)], name
            elif level == "instance_service":
                assert not groupings, "%s aggregates nothing" % name
            else:
                keep = LEVELS[level] | ({"le"} if metric.endswith("_bucket") else set())
                for g in groupings:
                    assert {x.strip() for x in g.split(",")} == keep, (name, g)
                # what it does not aggregate itself, it reads at its own level
                assert groupings or inputs, name
            for used in inputs:
                assert used.split(":")[0] in (base, "instance_service"), (name, used)
            recorded.append(name)


def test_alerts_say_how_bad_what_it_means_and_what_to_do():
    for rule in all_rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        assert re.fullmatch(r"(HttpServer|GrpcServer|Redscope)[A-Z0-9][A-Za-z0-9]+", name), name
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert re.fullmatch(r"\d+m", rule["for"]), name
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}, name
        assert "$value" in rule["annotations"]["summary"] or name == "RedscopeDown", name
        if name != "RedscopeDown":
            assert "# threshold:" in rule["expr"], "%s: its threshold is not marked" % name


def test_the_readme_documents_every_alert_and_its_threshold():
    text = README.read_text()
    for rule in all_rules():
        if "alert" not in rule:
            continue
        rows = [line for line in text.splitlines()
                if line.startswith("| `%s`" % rule["alert"])]
        assert len(rows) == 1, "%s: no row in the README's alert table" % rule["alert"]
        for threshold in re.findall(r"([\d.]+)\s*#\s*threshold:", rule["expr"]):
            # as it is, as a share, or as seconds
            spelt = {threshold, "%g%%" % (float(threshold) * 100), "%g s" % float(threshold)}
            assert any(s in rows[0] for s in spelt), (rule["alert"], threshold, rows[0])
        assert rule["for"] in rows[0], (rule["alert"], rows[0])


def test_the_prometheusrule_is_the_rules_file():
    out = run([sys.executable, str(ROOT / "scripts" / "gen-prometheusrule.py"), "--check"])
    assert out.returncode == 0, out.stderr
    doc = yaml.safe_load(PROMETHEUSRULE.read_text())
    assert doc["kind"] == "PrometheusRule"
    assert doc["spec"] == load_rules()


def test_the_kubernetes_copies_are_in_the_kustomization():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.fail("kubectl is missing: scripts/install-deps.sh build test installs it "
                    "(Debian package kubernetes-client)")
    out = run([kubectl, "kustomize", str(ROOT / "deploy" / "kubernetes")], timeout=60)
    assert out.returncode == 0, out.stderr
    docs = {d["kind"]: d for d in yaml.safe_load_all(out.stdout) if d}
    rule = docs["PrometheusRule"]
    assert rule["spec"] == load_rules()
    cm = docs["ConfigMap"]
    assert cm["metadata"]["name"] == "redscope-dashboard"  # no hash suffix: a stable name
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["data"] == {"redscope-dashboard.json": DASHBOARD.read_text()}
    assert len(json.dumps(cm)) < ANNOTATION_LIMIT, "too large for kubectl apply"


# --------------------------------------------------------------------------------------
# dashboard, offline


def validate_dashboard(validator, path):  # noqa: F811
    script = validator.parent / "validate-dashboard.mjs"
    out = run(["node", str(script), str(path)])
    assert out.returncode in (0, 1), "the dashboard validator could not check:\n%s%s" % (
        out.stdout, out.stderr)
    result = json.loads(out.stdout)
    assert (out.returncode == 0) == (not result["errors"])
    return result


def test_the_dashboard_passes_grafanas_published_schema(validator):  # noqa: F811
    result = validate_dashboard(validator, DASHBOARD)
    assert result["errors"] == []
    # the schema version of the Grafana release whose schema it was checked against
    assert load_dashboard()["schemaVersion"] == result["schemaVersion"], result["package"]


# Copies broken as a hand edit might break them, and what the schema check says
BROKEN_DASHBOARDS = {
    "width-as-string": (lambda d: d["panels"][1]["gridPos"].update(w="8"),
                        "'string' is not assignable to type 'number'"),
    "misspelt-panel-field": (lambda d: d["panels"][1].update(datasourse=DS_REF), "datasourse"),
    "unknown-variable-type": (lambda d: d["templating"]["list"][1].update(type="querry"),
                              "VariableType"),
    "legend-mode-not-in-enum": (
        lambda d: d["panels"][1]["options"]["legend"].update(displayMode="lists"),
        "panel 2 options"),
    "misspelt-line-width": (
        lambda d: d["panels"][1]["fieldConfig"]["defaults"]["custom"].update(lineWidht=1),
        "panel 2 fieldConfig.defaults.custom"),
    "table-without-header-option": (
        lambda d: next(p for p in d["panels"] if p["type"] == "table")["options"].pop("showHeader"),
        "showHeader"),
    "schema-version-as-string": (lambda d: d.update(schemaVersion="42"), "not assignable"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_DASHBOARDS))
def test_the_schema_check_rejects_a_broken_dashboard(case, validator, tmp_path):  # noqa: F811
    mutate, expected = BROKEN_DASHBOARDS[case]
    dashboard = load_dashboard()
    mutate(dashboard)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(dashboard))
    errors = validate_dashboard(validator, path)["errors"]
    assert any(expected in e for e in errors), "%r not among %s" % (expected, errors)


def test_the_dashboard_has_what_grafana_needs_to_import_it():
    d = load_dashboard()
    # a uid of its own (what links and provisioning find it by), no instance id
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d["uid"])
    assert d.get("id") is None and d["title"]
    ids = [p["id"] for p in panels(d)]
    assert all(isinstance(i, int) and i > 0 for i in ids) and len(ids) == len(set(ids))
    # the grid: 24 columns, whole numbers, panels inside it and never on top of each other
    cells = {}
    for p in panels(d):
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in "xywh"), p["title"]
        assert g["x"] >= 0 and g["y"] >= 0 and g["w"] >= 1 and g["h"] >= 1, p["title"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, "%s overlaps %s" % (p["title"], cells[(x, y)])
                cells[(x, y)] = p["title"]


def test_every_query_goes_through_the_datasource_variable():
    d = load_dashboard()
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"] == DS_REF, v["name"]
    for p in panels(d):
        if p["type"] == "row":
            assert "datasource" not in p and "targets" not in p, p["title"]
            continue
        assert p["datasource"] == DS_REF, p["title"]
        assert len({t["refId"] for t in p["targets"]}) == len(p["targets"]), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == DS_REF, p["title"]


def variable_refs(text):
    return set(re.findall(r"\$\{?(\w+)", text))


def test_every_variable_a_query_or_link_uses_is_defined():
    d = load_dashboard()
    names = {v["name"] for v in d["templating"]["list"]}
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            assert variable_refs(v["query"]) <= names, v["name"]
    for p, t in queries(d):
        assert variable_refs(t["expr"]) <= names | GRAFANA_GLOBALS, p["title"]
    for p in panels(d):
        for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", []):
            assert variable_refs(link["url"]) <= names | GRAFANA_GLOBALS, p["title"]
            assert "/d/%s" % d["uid"] in link["url"], p["title"]


def test_the_variables_select_services_and_routes_and_ignore_kubernetes_on_plain_hosts():
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    assert set(variables) == {"datasource", "namespace", "pod", "service_name", "http_route"}
    for name, label in (("namespace", "k8s_namespace_name"), ("pod", "k8s_pod_name"),
                        ("service_name", "service_name"), ("http_route", "http_route")):
        v = variables[name]
        assert re.fullmatch(r"label_values\(.+, %s\)" % label, v["query"]), name
        # "All" is the regex that matches anything, an absent label too: on a plain host
        # the Kubernetes variables have no values and select everything
        assert v["includeAll"] and v["allValue"] == ".*" and v["multi"], name
    # so every selector of them matches a regex, never a value
    for p, t in queries(load_dashboard()):
        for name, label in (("namespace", "k8s_namespace_name"), ("pod", "k8s_pod_name"),
                            ("service_name", "service_name"), ("http_route", "http_route")):
            for m in re.finditer(r"(\w+)\s*(=~|=|!=|!~)\s*\"\$%s\"" % name, t["expr"]):
                assert m.group(1) == label and m.group(2) == "=~", (p["title"], m.group(0))
        if "http_server_" in t["expr"]:
            for name in ("namespace", "pod", "service_name"):
                assert "$%s" % name in t["expr"], (p["title"], name)


def test_the_dashboard_shows_red_saturation_and_redscopes_health():
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"])
             for p in panels(load_dashboard()) if p["type"] != "row"}

    def panel(*needles):
        found = [title for title, e in exprs.items() if all(n in e for n in needles)]
        assert found, needles
        return found

    panel("rate(http_server_request_duration_seconds_count")
    panel('http_response_status_code=~"5.."')
    for q in ("0.5", "0.9", "0.99"):
        panel("histogram_quantile(%s" % q, "http_server_request_duration_seconds_bucket")
        panel("histogram_quantile(%s" % q, "http_route, le")
    for q in ("0.9", "0.99"):
        panel("histogram_quantile(%s" % q, "http_server_request_queue_duration_seconds_bucket")
    panel("rate(http_server_worker_busy_seconds_total", "/", "http_server_workers")
    panel("sum by (k8s_namespace_name, service_name) (http_server_workers")
    panel("http_server_active_requests")
    panel("redscope_lost_events_total")
    panel("rate(http_client_request_duration_seconds_count", "server_address")
    panel("http_client_request_duration_seconds_count", 'error_type!=""', "/")
    panel("histogram_quantile(0.99", "http_client_request_duration_seconds_bucket", "server_address, le")
    panel("sum by (reason) (rate(redscope_parse_errors_total")
    panel("redscope_requests_unanswered_total")
    panel("redscope_tracked_processes", "redscope_tracked_connections")
    panel("scrape_duration_seconds")
    panel("rate(rpc_server_call_duration_seconds_count", 'error_type!=""')
    panel("rpc_response_status_code")
    for q in ("0.5", "0.9", "0.99"):
        panel("histogram_quantile(%s" % q, "rpc_server_call_duration_seconds_bucket")


# --------------------------------------------------------------------------------------
# live: the demo stack with the rules loaded

SCRAPE_S = 1
# The test's copy of the rules evaluates over 20 s instead of 5 minutes: a rate over 5
# minutes of series a few seconds old is their increase divided by 300 s, and a busy
# ratio would take 5 minutes to climb to 1. Everything else, for: included, as shipped.
WINDOW = "20s"
HEALTHY, SATURATED = "polls", "polls-saturated"
GRPC_SERVICE = "grpc_app"
CALLER = "polls-frontend"  # calls polls: the dependency panels' data
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def local_rules(workdir):
    text = RULES.read_text()
    windows = re.findall(r"\[[^\]]*\]", re.sub(r"#.*", "", text))
    assert windows and set(windows) == {"[5m]"}, set(windows)
    path = workdir / "rules.yaml"
    path.write_text(text.replace("[5m]", "[%s]" % WINDOW))
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo app twice, watched by one redscope, scraped every second by a Prometheus
    with the rules. polls: 3 sync workers as `make demo` runs them, the app 5 times
    faster (its 2xx endpoint sleeps 0.16 s on average), 10 locust users waiting 1.2 to
    2.4 s between requests: the workers about 15% busy. polls-saturated: 2 sync workers,
    the 2xx endpoint sleeping 1.2 s on average, 8 locust users who hardly wait: both
    workers always busy, 6 connections in the listen queue. Both answer 5xx to a
    quarter of their requests (locust's 2:1:1 mix). And a gRPC service (grpc_app, its
    client calling in a loop: OK, NOT_FOUND and UNKNOWN answers) for the gRPC rules and
    panels; and polls-frontend, calling polls' 4xx endpoint twice a second, for the
    dependency panels."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("demo")
    procs, logs, rs, prom = [], [], None, None

    def start(name, cmd, env=None, cpus=SERVER_CPUS):
        logs.append(open(workdir / ("%s.log" % name), "w"))
        p = subprocess.Popen(pinned(cmd, cpus), env=env, stdout=subprocess.DEVNULL,
                             stderr=logs[-1])
        procs.append(p)
        return p

    try:
        apps = {}
        for service, workers, scale in ((HEALTHY, 3, 0.2), (SATURATED, 2, 1.5)):
            port = stack.free_port()
            env = dict(stack.env_with_scale(scale), OTEL_SERVICE_NAME=service)
            app = start(service, stack.gunicorn_cmd(port, workdir / ("%s-access.log" % service),
                                                    workers), env)
            stack.wait_port(port, app, service)
            apps[service] = (port, app)
        grpc_port = stack.free_port()
        grpc = start(GRPC_SERVICE, ["/usr/bin/python3", str(APPS / "grpc_app.py"), "serve",
                                    str(grpc_port)])
        stack.wait_port(grpc_port, grpc, GRPC_SERVICE)
        frontend = start(CALLER, ["/usr/bin/python3", str(APPS / "http_caller.py"),
                                  json.dumps(["http://127.0.0.1:%d/polls/4xx_not_found/" % apps[HEALTHY][0]]),
                                  "0.5"], env=dict(os.environ, OTEL_SERVICE_NAME=CALLER),
                         cpus=CLIENT_CPUS)
        rs = Redscope(workdir, ["--pid=%d" % app.pid for _, app in apps.values()]
                      + ["--pid=%d" % grpc.pid, "--pid=%d" % frontend.pid])
        prom = Prometheus(workdir, rs.port, SCRAPE_S, rule_files=[local_rules(workdir)])
        for service, users, scale, wait in ((HEALTHY, 10, 0.2, (6, 12)),
                                            (SATURATED, 8, 1.5, (0, 0.02))):
            url = "http://127.0.0.1:%d" % apps[service][0]
            start("locust-" + service, stack.locust_cmd(url, users),
                  stack.env_with_scale(scale, wait), cpus=CLIENT_CPUS)
        start("grpc-client", ["/usr/bin/python3", str(APPS / "grpc_app.py"), "loop", str(grpc_port),
                              json.dumps([["unary", "Add", 5, "ok"], ["unary", "Add", 1, "notfound"],
                                          ["unary", "Add", 1, "crash"]])], cpus=CLIENT_CPUS)
        yield {"redscope": rs, "prometheus": prom, "started": time.time()}
    finally:
        for p in reversed(procs):
            stack.stop(p)
        if prom:
            prom.stop()
        if rs:
            rs.stop()
        for log in logs:
            log.close()


@pytest.mark.solo
def test_the_rules_load_and_every_recording_rule_records_series(demo):
    prom = demo["prometheus"]
    groups = prom.api("rules")["groups"]
    assert sorted(g["name"] for g in groups) == sorted(g["name"] for g in load_rules()["groups"])

    def recorded():
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"]
        assert not bad, bad
        if any(r["health"] != "ok" for r in rules):  # "unknown": not evaluated yet
            return None
        missing = []
        for rule in all_rules():
            # the gRPC rules record gRPC services only (the demo's are gunicorn's): their
            # expressions are checked by the promtool unit tests
            if "record" not in rule or "rpc_server" in rule["record"]:
                continue
            selector = rule["record"]
            if "quantile" in rule.get("labels", {}):
                selector += '{quantile="%s"}' % rule["labels"]["quantile"]
            answer = prom.api("query", query=selector)["result"]
            services = {s["metric"].get("service_name") for s in answer}
            if not {HEALTHY, SATURATED} <= services:
                missing.append((selector, services))
        return not missing or None

    wait_for(recorded, 60, interval=1, what="every recording rule to record both services")


def grafana_label_values(prom, query, values):
    """What Grafana's label_values(METRIC{SELECTOR}, LABEL) lists."""
    m = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
    assert m, query
    match = interpolate(m.group(1), values, {})
    return sorted(prom.api("label/%s/values" % m.group(2), **{"match[]": match}))


def grafana_regex(selected):
    """A multi-value variable in a regex matcher: Grafana escapes each value for
    Prometheus and joins them."""
    escaped = [re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", v) for v in selected]
    return escaped[0] if len(escaped) == 1 else "(%s)" % "|".join(escaped)


def interpolate(text, values, globals_):
    for name, value in list(values.items()) + list(globals_.items()):
        text = text.replace("${%s}" % name, value)
        text = re.sub(r"\$%s\b" % re.escape(name), lambda m: value, text)
    assert "$" not in text, text
    return text


RANGE_S = 30
GLOBALS = {"__rate_interval": WINDOW, "__range": "%ds" % RANGE_S}


def check_panel(prom, panel, values):
    """Every query of a panel, as Grafana would send it: non-empty, finite somewhere, and
    of the panel's shape (a time series panel: each series named by exactly the labels
    its legend shows, those of Kubernetes absent on a plain host; a table: every query
    keyed by the same labels, those its columns are made of)."""
    now = time.time()
    keys = []
    for t in panel["targets"]:
        expr = interpolate(t["expr"], values, GLOBALS)
        if t.get("instant"):
            result = prom.api("query", query=expr, time="%.3f" % now)["result"]
            samples = [s["value"][1] for s in result]
        else:
            result = prom.api("query_range", query=expr, start="%.3f" % (now - RANGE_S),
                              end="%.3f" % now, step="2")["result"]
            samples = [v[1] for s in result for v in s["values"]]
        where = "%s, %s (%s): %s" % (panel["title"], t["refId"], values, expr)
        assert result, "no series: " + where
        assert any(math.isfinite(float(v)) for v in samples), "no finite value: " + where
        for s in result:
            labels = set(s["metric"])
            if t.get("format") == "table":
                keys.append(labels)
            else:
                shown = set(LEGEND_LABEL.findall(t["legendFormat"]))
                assert shown - K8S_LABELS <= labels <= shown, (where, s["metric"])
    if panel["type"] == "table":
        columns = {k for k in panel["transformations"][1]["options"]["renameByName"]
                   if not k.startswith("Value")}
        for labels in keys:
            assert columns - K8S_LABELS <= labels <= columns, (panel["title"], labels)


@pytest.mark.solo
def test_every_dashboard_panel_answers_with_its_shape(demo):
    prom = demo["prometheus"]
    d = load_dashboard()
    variables = [v for v in d["templating"]["list"] if v["type"] == "query"]
    # a plain host: the Kubernetes variables have nothing to list, "All" stays selected
    for v in variables[:2]:
        assert v["name"] in ("namespace", "pod")
        assert grafana_label_values(prom, v["query"], {"namespace": ".*"}) == []

    # rates need two samples inside the window, and a quantile requests in every series
    time.sleep(max(0, demo["started"] + 15 - time.time()))
    selections = [{v["name"]: ".*" for v in variables}]  # everything: "All"
    for service, route in ((SATURATED, "/polls/2xx_success/"), (HEALTHY, "/polls/5xx_exception/")):
        chosen = {"namespace": ".*", "pod": ".*"}
        for v in variables[2:]:
            listed = grafana_label_values(prom, v["query"], chosen)
            want = service if v["name"] == "service_name" else route
            assert want in listed, (v["name"], listed)
            chosen[v["name"]] = grafana_regex([want])
        selections.append(chosen)
    for values in selections:
        for p in panels(d):
            # the gRPC and dependency panels answer for the gRPC service and the caller,
            # which are in "All" only
            if p["type"] != "row" and (values is selections[0] or
                                       not p["title"].startswith(("gRPC", "Dependency"))):
                retry(lambda: check_panel(prom, p, values), 20)


def retry(check, timeout):
    """check() until it passes, for at most timeout seconds; its last failure if not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def alerts(prom):
    """{(alertname, service_name or instance): state} of every active alert."""
    out = {}
    for a in prom.api("alerts")["alerts"]:
        labels = a["labels"]
        out[(labels["alertname"], labels.get("service_name", labels.get("instance")))] = a["state"]
    return out


SATURATION_ALERTS = ("HttpServer5xxRatioHigh", "HttpServerLatencyP99High",
                     "HttpServerWorkersSaturated", "HttpServerRequestsQueueing")


@pytest.mark.solo
def test_a_saturated_pool_and_5xx_answers_make_their_alerts_pending(demo):
    prom = demo["prometheus"]
    want = {(name, SATURATED) for name in SATURATION_ALERTS}

    def raised():
        active = alerts(prom)
        return active if want <= set(active) else None

    active = wait_for(raised, 90, interval=1, what="the saturated pool's alerts")
    # pending: each has a `for:` of minutes, and Prometheus waits it out
    assert {k: active[k] for k in want} == {k: "pending" for k in want}
    # the healthy app answers 5xx as often (a quarter of its load): that alert only
    assert active.get(("HttpServer5xxRatioHigh", HEALTHY)) == "pending"
    for name in ("HttpServerLatencyP99High", "HttpServerWorkersSaturated",
                 "HttpServerRequestsQueueing"):
        assert (name, HEALTHY) not in active, active
    # and redscope, healthy, raises none of its own
    assert not [k for k in active if k[0].startswith("Redscope")], active


@pytest.mark.solo
def test_stopping_redscope_makes_redscope_down_pending(demo):
    prom, rs = demo["prometheus"], demo["redscope"]
    instance = "127.0.0.1:%d" % rs.port
    assert ("RedscopeDown", instance) not in alerts(prom)
    assert rs.stop() == 0, rs.logs()
    state = wait_for(lambda: alerts(prom).get(("RedscopeDown", instance)), 30, interval=1,
                     what="RedscopeDown")
    assert state == "pending"
