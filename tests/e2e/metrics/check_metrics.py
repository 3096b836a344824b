#!/usr/bin/env python3
"""Parses a /metrics scrape with the real Prometheus text parser and checks expected values.

Usage: check_metrics.py SCRAPE_FILE EXPECTATIONS_JSON
EXPECTATIONS_JSON is a list of {"sample": name, "labels": {...}, "op": "==" | ">=", "value": v}.
A sample with the given labels must exist (extra labels on the sample are not allowed: the labels
must match exactly). Prints one line per check; exit 1 when any fails or the text does not parse.
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    expectations = json.loads(sys.argv[2])
    samples = {}
    types = {}
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                types[s.name] = family.type
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    except Exception as e:  # the parser raises ValueError and friends on bad text
        print(f"FAIL: the scrape does not parse: {e}")
        return 1
    failed = 0
    for e in expectations:
        key = (e["sample"], tuple(sorted(e.get("labels", {}).items())))
        got = samples.get(key)
        op, want = e.get("op", "=="), e["value"]
        if "type" in e and types.get(e["sample"]) != e["type"]:
            print(f"FAIL {e['sample']}: type {types.get(e['sample'])}, want {e['type']}")
            failed += 1
            continue
        ok = got is not None and (got == want if op == "==" else got >= want)
        print(f"{'ok  ' if ok else 'FAIL'} {e['sample']}{dict(key[1])} = {got} (want {op} {want})")
        failed += 0 if ok else 1
    print(f"{len(expectations) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
