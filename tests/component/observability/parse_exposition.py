#!/usr/bin/python3
"""Parses a /metrics scrape with the Prometheus reference parser (python3-prometheus-client) and
prints its samples as JSON: [{"name", "labels", "value"}, ...] plus the family types.
    parse_exposition.py prometheus|openmetrics < scrape.txt
Exits non-zero (with the parser's error) when the text is not valid in that format."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

text = sys.stdin.read()
parse = parse_openmetrics if sys.argv[1] == "openmetrics" else parse_prometheus
families = list(parse(text))
print(json.dumps({
    "types": {f.name: f.type for f in families},
    "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for f in families for s in f.samples],
}))
