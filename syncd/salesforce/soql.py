"""Building SOQL text: the one way syncd puts values into a query.

Quoting and escaping follow Salesforce's rules for quoted string escapes,
implemented by simple-salesforce's `format_soql`:
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm
"""

from __future__ import annotations

from datetime import datetime

from simple_salesforce.format import format_soql


def soql(template: str, **params: object) -> str:
    """SOQL from `template` with each `{name}` replaced by `params[name]`, quoted and escaped.

    This is the only way syncd builds SOQL: a value (subject, address, id, date)
    can never end a string literal or add a clause, whatever characters it holds.
    Strings are quoted, lists become `('a','b')`, datetimes become UTC literals.
    `{name:like}` escapes for use inside a LIKE pattern (the template supplies the
    quotes); `{name:literal}` inserts text verbatim and is only for text syncd
    itself composed (field lists, clauses built with this function, or the tenant's
    configured filter).

    Datetimes must be timezone-aware: simple-salesforce would read a naive one as
    the machine's local time, silently shifting the window.
    """
    for name, value in params.items():
        _refuse_naive(name, value)
    return format_soql(template, **params)


def _refuse_naive(name: str, value: object) -> None:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"SOQL parameter {name!r} is a naive datetime ({value.isoformat()}); "
                "pass a timezone-aware datetime (UTC)"
            )
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _refuse_naive(name, item)


def probe_query(extra_filter: str) -> str:
    """A one-row Event query through a tenant's `salesforce.scope.extra_filter`, built as
    syncd's own queries are (`syncd config check --salesforce`: the org runs it)."""
    return soql(
        "SELECT Id FROM Event WHERE IsChild = false AND ({condition:literal}) LIMIT 1",
        condition=extra_filter,
    )
