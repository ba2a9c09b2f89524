#!/usr/bin/python3
"""Checks the Helm chart without helm: values.yaml and the connector config it embeds parse as
YAML, every template parses as YAML once its template directives are replaced, and the rendered
shape has what a deployment needs: /healthz liveness and /readyz readiness probes on the metrics
port the config listens on, the metrics Service and ServiceMonitor on that port, a non-root,
read-only-root-filesystem, no-privilege-escalation security context.
    check-helm-chart.py packaging/helm/siem-connector"""
import pathlib
import re
import sys

import yaml

chart = pathlib.Path(sys.argv[1])
errors = []


def expect(cond, what):
    if not cond:
        errors.append(what)


def template_yaml(path):
    """The template with directive-only lines dropped and inline directives made scalars."""
    lines = []
    for line in path.read_text().splitlines():
        if re.fullmatch(r"\s*\{\{-?.*-?\}\}\s*", line):
            continue
        lines.append(re.sub(r"\{\{-?.*?-?\}\}", "TEMPLATED", line))
    return [d for d in yaml.safe_load_all("\n".join(lines)) if d]


values = yaml.safe_load((chart / "values.yaml").read_text())
config = yaml.safe_load(values["config"])
port = values["metrics"]["port"]
expect(values["metrics"]["enabled"] is True, "values: metrics.enabled is not on by default")
expect(config.get("observability", {}).get("listen") == f"0.0.0.0:{port}",
       f"values: config observability.listen is not 0.0.0.0:{port}")
expect(values["metrics"]["serviceMonitor"]["enabled"] is False, "values: the ServiceMonitor must be opt-in")

docs = {}
for t in sorted((chart / "templates").glob("*.yaml")):
    try:
        for d in template_yaml(t):
            docs[d["kind"]] = d
    except yaml.YAMLError as e:
        errors.append(f"{t.name}: not YAML once templated: {e}")

dep = docs["Deployment"]["spec"]["template"]["spec"]
expect(dep["securityContext"].get("runAsNonRoot") is True, "pod: runAsNonRoot is not true")
expect(dep["securityContext"].get("runAsUser") not in (None, 0), "pod: runAsUser is root or unset")
for c in dep["containers"] + dep.get("initContainers", []):
    sc = c.get("securityContext", {})
    expect(sc.get("readOnlyRootFilesystem") is True, f"{c['name']}: readOnlyRootFilesystem is not true")
    expect(sc.get("allowPrivilegeEscalation") is False, f"{c['name']}: allowPrivilegeEscalation is not false")
    expect(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{c['name']}: capabilities are not all dropped")
    expect("resources" in c, f"{c['name']}: no resources (a namespace quota requiring them refuses the pod)")
main = next(c for c in dep["containers"] if c["name"] == "siem-connector")
expect({"name": "metrics", "containerPort": "TEMPLATED", "protocol": "TCP"} in main.get("ports", []),
       "container: no metrics port")
expect(main.get("livenessProbe", {}).get("httpGet") == {"path": "/healthz", "port": "metrics"},
       "container: liveness probe is not GET /healthz on the metrics port")
expect(main.get("readinessProbe", {}).get("httpGet") == {"path": "/readyz", "port": "metrics"},
       "container: readiness probe is not GET /readyz on the metrics port")
for probe in ("liveness", "readiness"):
    expect(set(values["probes"][probe]) <= {"initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold",
                                            "successThreshold"}, f"values: probes.{probe} has keys a probe does not take")
svc = docs.get("Service", {}).get("spec", {})
expect(any(p.get("name") == "metrics" and p.get("targetPort") == "metrics" for p in svc.get("ports", [])),
       "Service: no metrics port targeting the container's")
sm = docs.get("ServiceMonitor", {}).get("spec", {})
expect(any(e.get("port") == "metrics" and e.get("path") == "/metrics" for e in sm.get("endpoints", [])),
       "ServiceMonitor: no endpoint scraping /metrics on the metrics port")

for e in errors:
    print(f"  {e}")
sys.exit(1 if errors else 0)
