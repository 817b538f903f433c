"""A tokenizer and recursive-descent parser for the SOQL subset syncd sends.

Grammar (SOQL SELECT syntax,
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm):

    query      := SELECT items FROM name [WHERE cond] [ORDER BY order (',' order)*]
                  [LIMIT int] [OFFSET int]
    items      := item (',' item)*
    item       := path | COUNT '(' ')' | typeof | '(' subquery ')'
    typeof     := TYPEOF name (WHEN name THEN path (',' path)*)+ [ELSE path (',' path)*] END
                  (sforce_api_calls_soql_select_typeof.htm)
    cond       := term (AND term)* | term (OR term)*   -- mixing needs parentheses
    term       := NOT term | '(' cond ')' | path op value | path [NOT] IN '(' values ')'
                  | path LIKE string
    value      := string | number | true | false | null | date | dateTime | date literal

String escapes follow sforce_api_calls_soql_select_quotedstringescapes.htm
(\\n \\r \\t \\b \\f \\" \\' \\\\ \\uXXXX, and \\_ \\% for LIKE); dateTime and date
formats and the date literals TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n and
NEXT_N_DAYS:n follow sforce_api_calls_soql_select_dateformats.htm.
Errors read like Salesforce's MALFORMED_QUERY messages: the query line, a caret,
`ERROR at Row:r:Column:c` and what went wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal as TypingLiteral
from typing import cast

from syncd.sandbox.salesforce.values import parse_datetime

Op = TypingLiteral["=", "!=", "<", "<=", ">", ">="]

KEYWORDS = frozenset(
    [
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "like",
        "includes",
        "excludes",
        "order",
        "by",
        "asc",
        "desc",
        "nulls",
        "first",
        "last",
        "limit",
        "offset",
        "typeof",
        "when",
        "then",
        "else",
        "end",
        "null",
        "true",
        "false",
        "group",
        "having",
        "with",
        "using",
        "for",
    ]
)
DATE_RANGES = frozenset({"today", "yesterday", "tomorrow"})
DATE_N_RANGES = frozenset({"last_n_days", "next_n_days"})


class SoqlError(Exception):
    """A query Salesforce would refuse; `code` is MALFORMED_QUERY or INVALID_FIELD etc."""

    def __init__(self, message: str, *, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def located(text: str, offset: int, message: str) -> str:
    """Salesforce's error layout: the offending line, a caret, the row and column."""
    row = text.count("\n", 0, offset) + 1
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    column = offset - line_start + 1
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{message}"


# -- tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # ident, string, number, datetime, date, op, ( ) , . : or eof
    text: str
    offset: int
    value: object = None
    # Positions of `%` and `_` that were escaped (\\% \\_): literal inside LIKE.
    escaped: frozenset[int] = frozenset()

    def is_word(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.lower() in words


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\dT])")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_SIMPLE_ESCAPES = {
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; raises SoqlError on a character SOQL does not know."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
            continue
        if char == "'":
            token, position = _string(text, position)
            tokens.append(token)
            continue
        if char.isdigit() or (char == "-" and text[position + 1 : position + 2].isdigit()):
            token, position = _numeric(text, position)
            tokens.append(token)
            continue
        match = _IDENT.match(text, position)
        if match:
            tokens.append(Token("ident", match.group(), position))
            position = match.end()
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
        if operator:
            normalized = "!=" if operator == "<>" else operator
            tokens.append(Token("op", normalized, position))
            position += len(operator)
            continue
        if char in "(),.:":
            tokens.append(Token(char, char, position))
            position += 1
            continue
        raise SoqlError(
            located(
                text, position, f"line 1:{position} no viable alternative at character '{char}'"
            )
        )
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


def _numeric(text: str, start: int) -> tuple[Token, int]:
    for pattern, kind in ((_DATETIME, "datetime"), (_DATE, "date"), (_NUMBER, "number")):
        match = pattern.match(text, start)
        if not match:
            continue
        raw = match.group()
        try:
            if kind == "datetime":
                value: object = parse_datetime(raw, default_utc=False)
            elif kind == "date":
                value = date.fromisoformat(raw)
            else:
                value = float(raw) if "." in raw else int(raw)
        except ValueError as error:
            raise SoqlError(located(text, start, f"Invalid {kind} literal: {raw}")) from error
        return Token(kind, raw, start, value), match.end()
    raise SoqlError(located(text, start, f"unexpected token: '{text[start]}'"))


def _string(text: str, start: int) -> tuple[Token, int]:
    chars: list[str] = []
    escaped: set[int] = set()
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "'":
            return Token(
                "string", text[start : position + 1], start, "".join(chars), frozenset(escaped)
            ), position + 1
        if char != "\\":
            chars.append(char)
            position += 1
            continue
        nxt = text[position + 1 : position + 2]
        if nxt in _SIMPLE_ESCAPES:
            chars.append(_SIMPLE_ESCAPES[nxt])
            position += 2
        elif nxt in ("%", "_"):
            escaped.add(len(chars))
            chars.append(nxt)
            position += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[position + 2 : position + 6]):
            chars.append(chr(int(text[position + 2 : position + 6], 16)))
            position += 6
        else:
            raise SoqlError(
                located(
                    text,
                    position,
                    f"Invalid string literal '{text[start : position + 2]}'. Illegal character "
                    f"sequence '\\{nxt}' in string literal.",
                )
            )
    raise SoqlError(located(text, start, "unexpected token: unterminated string literal"))


# -- syntax tree -------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldPath:
    """`Owner.Email` -> ("Owner", "Email"), as written (case preserved)."""

    parts: tuple[str, ...]
    offset: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class TypeOf:
    relationship: str
    whens: tuple[tuple[str, tuple[FieldPath, ...]], ...]
    otherwise: tuple[FieldPath, ...] | None
    offset: int


@dataclass(frozen=True)
class CountAll:
    offset: int


@dataclass(frozen=True)
class SubQuery:
    query: Query


SelectItem = FieldPath | TypeOf | CountAll | SubQuery


@dataclass(frozen=True)
class Literal:
    """A value in a condition. kind: string, number, boolean, null, date, datetime, range."""

    kind: str
    value: object
    offset: int
    text: str
    escaped: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Comparison:
    path: FieldPath
    op: Op
    value: Literal


@dataclass(frozen=True)
class InList:
    path: FieldPath
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    path: FieldPath
    pattern: Literal


@dataclass(frozen=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | InList | Like | And | Or | Not


@dataclass(frozen=True)
class OrderItem:
    path: FieldPath
    descending: bool = False
    nulls_first: bool = True  # "By default, null values are sorted first."


@dataclass(frozen=True)
class Query:
    items: tuple[SelectItem, ...]
    sobject: str
    sobject_offset: int
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    text: str = field(default="", compare=False)


# -- parser ------------------------------------------------------------------------------
class Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def error(self, token: Token | None = None, message: str | None = None) -> SoqlError:
        token = token or self.current
        text = message or f"unexpected token: {_quote(token)}"
        return SoqlError(located(self.text, token.offset, text))

    def expect_word(self, *words: str) -> Token:
        if not self.current.is_word(*words):
            raise self.error()
        return self.advance()

    def expect(self, kind: str) -> Token:
        if self.current.kind != kind:
            raise self.error()
        return self.advance()

    def name(self) -> Token:
        token = self.current
        if token.kind != "ident" or token.text.lower() in KEYWORDS:
            raise self.error()
        return self.advance()

    # query ---------------------------------------------------------------------------
    def parse(self) -> Query:
        query = self.query(nested=False)
        if self.current.kind != "eof":
            raise self.error()
        return query

    def query(self, *, nested: bool) -> Query:
        self.expect_word("select")
        items = self.select_items(nested=nested)
        self.expect_word("from")
        sobject = self.name()
        where = None
        if self.current.is_word("where"):
            self.advance()
            where = self.condition()
        order_by: tuple[OrderItem, ...] = ()
        if self.current.is_word("order"):
            self.advance()
            self.expect_word("by")
            order_by = self.order_items()
        limit = offset = None
        if self.current.is_word("limit"):
            self.advance()
            limit = self.integer()
        if self.current.is_word("offset"):
            self.advance()
            offset = self.integer()
        return Query(
            items=items,
            sobject=sobject.text,
            sobject_offset=sobject.offset,
            where=where,
            order_by=order_by,
            limit=limit,
            offset=offset,
            text=self.text,
        )

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or not isinstance(token.value, int) or token.value < 0:
            raise self.error()
        self.advance()
        return token.value

    def select_items(self, *, nested: bool) -> tuple[SelectItem, ...]:
        items: list[SelectItem] = [self.select_item(nested=nested)]
        while self.current.kind == ",":
            self.advance()
            items.append(self.select_item(nested=nested))
        return tuple(items)

    def select_item(self, *, nested: bool) -> SelectItem:
        token = self.current
        if token.kind == "(":
            if nested:
                raise self.error(message="Nesting of semi join sub-selects is not supported")
            self.advance()
            sub = self.query(nested=True)
            self.expect(")")
            return SubQuery(sub)
        if token.is_word("typeof"):
            return self.type_of()
        if token.is_word("count") and self.tokens[self.index + 1].kind == "(":
            self.advance()
            self.advance()
            if self.current.kind != ")":
                raise self.error(message="The sandbox supports COUNT() without a field only")
            self.advance()
            return CountAll(token.offset)
        return self.path()

    def path(self) -> FieldPath:
        first = self.name()
        parts = [first.text]
        while self.current.kind == ".":
            self.advance()
            parts.append(self.name().text)
        return FieldPath(tuple(parts), first.offset)

    def path_list(self) -> tuple[FieldPath, ...]:
        paths = [self.path()]
        while self.current.kind == ",":
            self.advance()
            paths.append(self.path())
        return tuple(paths)

    def type_of(self) -> TypeOf:
        start = self.advance()
        relationship = self.name().text
        whens: list[tuple[str, tuple[FieldPath, ...]]] = []
        while self.current.is_word("when"):
            self.advance()
            type_name = self.name().text
            self.expect_word("then")
            whens.append((type_name, self.path_list()))
        if not whens:
            raise self.error()
        otherwise = None
        if self.current.is_word("else"):
            self.advance()
            otherwise = self.path_list()
        self.expect_word("end")
        return TypeOf(relationship, tuple(whens), otherwise, start.offset)

    # conditions ----------------------------------------------------------------------
    def condition(self) -> Condition:
        first = self.term()
        if self.current.is_word("and", "or"):
            joiner = self.current.text.lower()
            items = [first]
            while self.current.is_word(joiner):
                self.advance()
                items.append(self.term())
            if self.current.is_word("and", "or"):
                # SOQL needs parentheses to mix AND and OR.
                raise self.error()
            return And(tuple(items)) if joiner == "and" else Or(tuple(items))
        return first

    def term(self) -> Condition:
        if self.current.is_word("not"):
            self.advance()
            return Not(self.term())
        if self.current.kind == "(":
            self.advance()
            inner = self.condition()
            self.expect(")")
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        path = self.path()
        token = self.current
        if token.kind == "op":
            self.advance()
            return Comparison(path, cast(Op, token.text), self.literal())
        if token.is_word("like"):
            self.advance()
            pattern = self.literal()
            if pattern.kind != "string":
                raise self.error(message="LIKE needs a quoted string")
            return Like(path, pattern)
        negated = False
        if token.is_word("not"):
            self.advance()
            negated = True
            if not self.current.is_word("in"):
                raise self.error()
        if self.current.is_word("in"):
            self.advance()
            return InList(path, self.literal_list(), negated)
        if token.is_word("includes", "excludes"):
            raise self.error(
                message="INCLUDES and EXCLUDES (multi-select picklists) are not supported "
                "by the sandbox"
            )
        raise self.error()

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect("(")
        if self.current.is_word("select"):
            raise self.error(
                message="Semi-join sub-selects (IN (SELECT ...)) are not supported by the sandbox"
            )
        values = [self.literal()]
        while self.current.kind == ",":
            self.advance()
            values.append(self.literal())
        self.expect(")")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.current
        if token.kind in ("string", "number", "date", "datetime"):
            self.advance()
            return Literal(token.kind, token.value, token.offset, token.text, token.escaped)
        if token.is_word("true", "false"):
            self.advance()
            return Literal("boolean", token.text.lower() == "true", token.offset, token.text)
        if token.is_word("null"):
            self.advance()
            return Literal("null", None, token.offset, token.text)
        if token.is_word(*DATE_RANGES):
            self.advance()
            return Literal("range", (token.text.upper(), 0), token.offset, token.text)
        if token.is_word(*DATE_N_RANGES):
            self.advance()
            self.expect(":")
            count = self.integer()
            return Literal(
                "range", (token.text.upper(), count), token.offset, f"{token.text}:{count}"
            )
        if token.kind == "ident" and token.text.lower() not in KEYWORDS:
            raise self.error(
                message=f"line 1:{token.offset} no viable alternative at character '{token.text}'"
            )
        raise self.error()

    def order_items(self) -> tuple[OrderItem, ...]:
        items = [self.order_item()]
        while self.current.kind == ",":
            self.advance()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        path = self.path()
        descending = False
        if self.current.is_word("asc", "desc"):
            descending = self.advance().text.lower() == "desc"
        nulls_first = True
        if self.current.is_word("nulls"):
            self.advance()
            nulls_first = self.expect_word("first", "last").text.lower() == "first"
        return OrderItem(path, descending, nulls_first)


def _quote(token: Token) -> str:
    return "<EOF>" if token.kind == "eof" else f"'{token.text}'"


def parse(text: str) -> Query:
    """Parse one SOQL query; raises SoqlError (MALFORMED_QUERY) when it is not valid."""
    if not text or not text.strip():
        raise SoqlError("\n\n^\nERROR at Row:1:Column:1\nunexpected token: <EOF>")
    return Parser(text).parse()
