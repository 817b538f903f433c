"""Reading a Prometheus scrape in tests: samples by name and labels, and deltas."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Mapping

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]


def fetch(url: str) -> str:
    """GET `url` (a /metrics endpoint) over HTTP and return the text."""
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - http://127.0.0.1
        assert answer.status == 200
        return answer.read().decode()


def samples(text: str) -> dict[Key, float]:
    """Every sample of a scrape: (sample name, labels) -> value."""
    found: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def total(
    scrape: Mapping[Key, float], name: str, where: Callable[[dict[str, str]], bool] = lambda _: True
) -> float:
    """The sum of `name`'s samples whose labels satisfy `where`."""
    return sum(v for (n, labels), v in scrape.items() if n == name and where(dict(labels)))


def delta(
    before: Mapping[Key, float],
    after: Mapping[Key, float],
    name: str,
    where: Callable[[dict[str, str]], bool] = lambda _: True,
) -> float:
    return total(after, name, where) - total(before, name, where)


def label_values(scrape: Mapping[Key, float], prefix: str = "syncd_") -> set[str]:
    """Every label value of the samples whose name starts with `prefix`."""
    return {v for (n, labels), _ in scrape.items() if n.startswith(prefix) for _, v in labels}
