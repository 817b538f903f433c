"""A tenant's `salesforce.scope.extra_filter`: checked before it ever reaches a sync.

syncd puts the filter, verbatim, inside parentheses in the WHERE clause of its
Event queries (syncd.sync.queries). Two checks keep a bad one from failing
only at run time:

- `filter_problem` (every load of the configuration): the text must be one
  condition that stays inside its parentheses. String literals must close
  (SOQL escapes, https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm),
  parentheses must balance without closing the ones syncd adds, and no `;` or
  clause keyword (ORDER BY, LIMIT, ...) may stand outside a nested
  parenthesis, where it would change syncd's own query
  (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm).
  Field names and values are left to the org: only it knows its schema.
- `syncd.salesforce.soql.probe_query` (`syncd config check --salesforce`): the
  org itself runs the filter in a one-row query, so a misspelt field or a wrong
  value type is reported with the org's own message.
"""

from __future__ import annotations

import re

#: Words that start a clause of the SELECT statement, or end it: outside a nested
#: parenthesis they would not belong to the condition.
CLAUSE_WORDS = frozenset(
    {"select", "from", "where", "order", "group", "having", "limit", "offset", "for",
     "with", "using", "update", "typeof"}
)  # fmt: skip
MAX_LENGTH = 4000
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def filter_problem(text: str) -> str | None:
    """What makes `text` unusable as syncd's extra condition, or None if it may be one."""
    if not text.strip():
        return "is empty; remove the key to sync every Event"
    if len(text) > MAX_LENGTH:
        return f"is {len(text)} characters long; at most {MAX_LENGTH}"
    depth = 0
    position = 0
    while position < len(text):
        char = text[position]
        if char == "'":
            end = _string_end(text, position)
            if end is None:
                return f"has a string opened at character {position + 1} that never closes"
            position = end
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return (
                    f"closes a parenthesis it did not open (character {position + 1}); "
                    "the filter must be one condition, e.g. \"Type = 'Meeting'\""
                )
        elif char == ";":
            return f"has ';' at character {position + 1}; SOQL is one statement"
        elif char.isalpha() or char == "_":
            word = _WORD.match(text, position)
            assert word is not None
            if depth == 0 and word.group().lower() in CLAUSE_WORDS:
                return (
                    f"has '{word.group()}' at character {position + 1}: the filter is a "
                    "condition only; syncd writes the rest of the query"
                )
            position = word.end()
            continue
        position += 1
    if depth:
        return f"leaves {depth} parenthesis(es) open"
    return None


def _string_end(text: str, start: int) -> int | None:
    """The index after the quote that closes the string opened at `start`, or None."""
    position = start + 1
    while position < len(text):
        if text[position] == "\\":
            position += 2  # an escape: the next character never ends the string
            continue
        if text[position] == "'":
            return position + 1
        position += 1
    return None
