"""The metric selectors of a PromQL expression, by a small tokenizer.

Not a PromQL parser: it walks the text and keeps the identifiers that name
series, with their label matchers, skipping what cannot be one: strings,
numbers and durations, `[...]` ranges, the label lists of `by`, `without`,
`on`, `ignoring`, `group_left` and `group_right`, function and aggregation
names (an identifier followed by `(`), keywords and operators, and Grafana's
`$variables`. Enough for the expressions micq's deploy/ files hold.

Example:
    selectors('sum by (job) (rate(micq_x_total{route="a"}[1m])) / up')
    -> [Selector("micq_x_total", [("route", "=", "a")]), Selector("up", [])]
"""

import re
from typing import NamedTuple

KEYWORDS = {
    # binary operators and modifiers
    "and", "or", "unless", "bool", "offset", "atan2",
    # label-list clauses (their `( ... )` is skipped too)
    "by", "without", "on", "ignoring", "group_left", "group_right",
    # aggregations (also written `sum by (x) (...)`, so not always before "(")
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    # literals
    "inf", "nan",
}
LABEL_LIST_CLAUSES = {"by", "without", "on", "ignoring", "group_left", "group_right"}

_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NUMBER = re.compile(r"(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)([smhdwy]|ms)?")
_MATCH_OP = re.compile(r"=~|!~|!=|=")
_VARIABLE = re.compile(r"\$(\{[^}]*\}|[a-zA-Z0-9_]+)")


class Selector(NamedTuple):
    name: str  # "" for a selector of labels alone: {job="x"}
    matchers: list  # [(label, op, value)]


class PromqlError(ValueError):
    pass


def _read_string(text, i):
    """The string starting at text[i] (a quote) and the index past it."""
    quote, j, value = text[i], i + 1, []
    while j < len(text) and text[j] != quote:
        if text[j] == "\\" and quote != "`":
            j += 1
        value.append(text[j])
        j += 1
    if j >= len(text):
        raise PromqlError(f"unterminated string at {i} in {text!r}")
    return "".join(value), j + 1


def _skip_space(text, i):
    while i < len(text) and (text[i].isspace() or text[i] == "#"):
        if text[i] == "#":  # a comment runs to the end of the line
            while i < len(text) and text[i] != "\n":
                i += 1
        else:
            i += 1
    return i


def _skip_balanced(text, i, open_char, close_char):
    """text[i] is `open_char`; the index past its matching `close_char`."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c in "\"'`":
            _, i = _read_string(text, i)
            continue
        if c == open_char:
            depth += 1
        elif c == close_char:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromqlError(f"unbalanced {open_char!r} in {text!r}")


def _read_matchers(text, i):
    """text[i] is "{"; the (label, op, value) list and the index past "}"."""
    matchers, i = [], i + 1
    while True:
        i = _skip_space(text, i)
        if i < len(text) and text[i] == "}":
            return matchers, i + 1
        label = _LABEL_NAME.match(text, i)
        if not label:
            raise PromqlError(f"expected a label name at {i} in {text!r}")
        i = _skip_space(text, label.end())
        op = _MATCH_OP.match(text, i)
        if not op:
            raise PromqlError(f"expected a matcher operator at {i} in {text!r}")
        i = _skip_space(text, op.end())
        if i >= len(text) or text[i] not in "\"'`":
            raise PromqlError(f"expected a string at {i} in {text!r}")
        value, i = _read_string(text, i)
        matchers.append((label.group(), op.group(), value))
        i = _skip_space(text, i)
        if i < len(text) and text[i] == ",":
            i += 1


def selectors(expr):
    """Every series selector in `expr`, in order of appearance."""
    found, i = [], 0
    while i < len(expr):
        i = _skip_space(expr, i)
        if i >= len(expr):
            break
        c = expr[i]
        if c in "\"'`":
            _, i = _read_string(expr, i)
        elif c == "[":  # a range or subquery: durations and $__rate_interval
            i = _skip_balanced(expr, i, "[", "]")
        elif c == "{":  # a selector of labels alone
            matchers, i = _read_matchers(expr, i)
            found.append(Selector("", matchers))
        elif c == "$":
            variable = _VARIABLE.match(expr, i)
            if not variable:
                raise PromqlError(f"a lone $ at {i} in {expr!r}")
            i = variable.end()
        elif c.isdigit() or (c == "." and i + 1 < len(expr) and expr[i + 1].isdigit()):
            i = _NUMBER.match(expr, i).end()
        elif _IDENT.match(expr, i):
            word = _IDENT.match(expr, i)
            name, i = word.group(), word.end()
            after = _skip_space(expr, i)
            if name.lower() in LABEL_LIST_CLAUSES:
                if after < len(expr) and expr[after] == "(":
                    i = _skip_balanced(expr, after, "(", ")")
            elif name.lower() in KEYWORDS:
                pass
            elif after < len(expr) and expr[after] == "(":
                pass  # a function: its arguments are read as the loop goes on
            else:
                matchers = []
                if after < len(expr) and expr[after] == "{":
                    matchers, i = _read_matchers(expr, after)
                found.append(Selector(name, matchers))
        else:
            i += 1  # an operator, a comma or a parenthesis
    return found


_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", re.S)


def grafana_variable_selectors(query):
    """The selectors of a Grafana Prometheus variable query: for
    `label_values(<selector>, <label>)` those of the selector (and the label
    as a matcher-less use, returned second); else those of the query."""
    values = _LABEL_VALUES.match(query)
    if values:
        return selectors(values.group(1)), values.group(2)
    return selectors(query), None
