"""kubectl's JSONPath templates (``kubectl get -o jsonpath=...``, ``-o custom-columns=...``).

A port of ``k8s.io/client-go/util/jsonpath`` as kubectl runs it (missing keys allowed), checked against
the Go code: ``render("{.spec.clusterIP}", svc) == "10.96.0.10"``. Data is JSON as ``json.loads`` gives it
(ints stay ints, as in kubectl's unstructured objects). kubectl's quirks are kept: ``['a.b']`` means ``.a.b``
(escape a literal dot: ``['a\\.b']`` or ``.a\\.b``); ``{.}`` looks up the key ``""`` (``{@}`` and ``{$}``
are the current object); an index out of range is an error; filters compare like Go templates (an int
with a float, or a null, is an error). One extension: ``["x"]`` is accepted like ``['x']``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["JsonPathError", "render", "evaluate", "column_value"]


class JsonPathError(ValueError):
    """A malformed template, or one that kubectl would fail to execute on the data."""


class _Invalid:
    """Go's invalid ``reflect.Value``: kubectl's cursor for a null range element or an empty range's body."""

    def __str__(self) -> str:
        return "<invalid reflect.Value>"


_NIL = _Invalid()
_TERM = frozenset(" \t\r\n.,[]$@{}")
_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_FILTER_END = re.compile(r"""[^"'\n)]*(?:(["'])[^\n]*?(?<!\\)\1[^\n)]*)?\)""")
_FILTER = re.compile(r"([^!<>=]+)([!<>=]+)(.+?)")
_NUMBER = re.compile(r"[+-]?[0-9.]*")
_SLICE = re.compile(r"(-?[0-9]*)(:-?[0-9]*)?(:-?[0-9]*)?")
_KEY = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_RELAXED = re.compile(r"\{\.?([^{}]+)\}|\.?([^{}]+)")
_UNESC = re.compile(r"""\\(?:([abfnrtv\\'"])|(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}))?|(['"])""")
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"'}
_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})
Node = tuple[Any, ...]  # ("text", s) ("const", v) ("field", key) ("wild",) ("rec",) ("arr", start, stop, derived, step)
#                        ("union", [nodes, ...]) ("filter", op, left_nodes, right_nodes) ("ident", "range" | "end")
Token = tuple[str, str | list[Node]]  # ("lit", text) ("out", nodes) ("range", nodes) ("end", [])
Item = tuple[Any, ...]  # ("lit", text) ("out", nodes) ("range", nodes, block: list[Item])
_Ordered = TypeVar("_Ordered", str, float)


def _unquote(raw: str, q: str) -> str:
    """Undo Go ``strconv`` escapes in a quoted string: ``\\n \\t \\r \\\\ \\" \\x41 \\u00e9 \\101`` ..."""

    def one(m: re.Match[str]) -> str:
        simple, code, bare = m.groups()
        if (simple and (simple not in "'\"" or simple == q)) or (bare and bare != q):
            return _SIMPLE[simple or bare]
        if code:
            v = int(code[1:], 16) if code[0] in "xuU" else int(code, 8)
            if v <= (0xFF if code[0] in "x01234567" else 0x10FFFF) and not (code[0] in "uU" and 0xD800 <= v < 0xE000):
                return chr(v)
        raise JsonPathError(f"unquote string {q}{raw}{q} error invalid syntax")

    return _UNESC.sub(one, raw)


class _Parser:
    """Scans one template the way client-go's ``Parser`` does."""

    def __init__(self, s: str) -> None:
        self.s, self.i = s, 0

    def action(self) -> list[Node]:
        """The nodes of one ``{...}``; ``self.i`` is just past its ``{``."""
        s, nodes = self.s, list[Node]()
        while not s.startswith("}", self.i):
            if s.startswith("[?(", self.i):
                nodes.append(self.filter())
                continue
            if s.startswith("..", self.i):
                if nodes and nodes[-1][0] == "rec":
                    raise JsonPathError("invalid multiple recursive descent")
                self.i += 2
                nodes.append(("rec",))
                if self.i < len(s) and (s[self.i] == "_" or s[self.i].isalnum()):
                    nodes.append(self.word(field=True))
                continue
            if self.i >= len(s) or s[self.i] in "\r\n":
                raise JsonPathError("unclosed action")
            c = s[self.i]
            self.i += 1
            if c == "[":
                nodes.extend(self.array())
            elif c in "\"'":
                nodes.append(("text", self.quote(c)))
            elif c == ".":
                nodes.append(self.word(field=True))
            elif c in "+-" or c.isdecimal():
                nodes.append(self.number())
            elif c == "_" or c.isalnum():
                self.i -= 1
                nodes.append(self.word(field=False))
            elif c not in " @$":
                raise JsonPathError(f"unrecognized character in action: U+{ord(c):04X} {c!r}")
        self.i += 1
        return nodes

    def word(self, field: bool) -> Node:
        """A field name (backslash escapes the next character) or an identifier, up to a terminator."""
        s, j = self.s, self.i
        while j < len(s) and s[j] not in _TERM:
            j += 2 if field and s[j] == "\\" else 1
        raw, self.i = s[self.i : j], min(j, len(s))
        if field:
            return ("wild",) if raw == "*" else ("field", raw.replace("\\", ""))
        if raw in ("true", "false"):
            return ("const", raw == "true")
        if raw not in ("range", "end"):
            raise JsonPathError(f"unrecognized identifier {raw}")
        return ("ident", raw)

    def number(self) -> Node:
        m = _NUMBER.match(self.s, self.i - 1)
        assert m is not None  # the pattern matches the empty string
        raw, self.i = m.group(), m.end()
        try:  # Go: Atoi (64-bit), else ParseFloat
            return ("const", int(raw) if raw.lstrip("+-").isdigit() and -(2**63) <= int(raw) < 2**63 else float(raw))
        except ValueError:
            raise JsonPathError(f"cannot parse number {raw}") from None

    def quote(self, q: str) -> str:
        """A string up to the first ``q`` not after a backslash, unescaped."""
        if not (m := re.compile(rf"[^\n]*?(?<!\\){q}").match(self.s, self.i)):
            raise JsonPathError("unterminated quoted string")
        raw, self.i = self.s[self.i : m.end() - 1], m.end()
        return _unquote(raw, q)

    def array(self) -> list[Node]:
        """``[...]``: a union, a quoted key (parsed as a path), or an index/slice."""
        end, nl = self.s.find("]", self.i), self.s.find("\n", self.i)
        if end < 0 or 0 <= nl < end:
            raise JsonPathError("unterminated array")
        text, self.i = self.s[self.i : end], end + 1
        text = ":" if text == "*" else text
        if "," in text:
            return [("union", [_sub(f"[{part.strip(' ')}]") for part in text.split(",")])]
        if m := _KEY.fullmatch(text):
            return _sub("." + (m.group(1) if m.group(1) is not None else m.group(2)))
        if not (m := _SLICE.fullmatch(text)):
            raise JsonPathError(f"invalid array index {text}")
        if "-" in (parts := [m.group(1), (m.group(2) or ":")[1:], (m.group(3) or ":")[1:]]):
            raise JsonPathError("array index - is not a number")
        start, stop, step = (int(x) if x else None for x in parts)
        if m.group(2) is None:  # [n] is [n:n+1], and [-1] reaches the end
            return [("arr", start, (start or 0) + 1, True, step)]
        return [("arr", start, stop, False, step)]

    def filter(self) -> Node:
        """``[?(left op right)]`` or ``[?(path)]``; a ``)`` in the first quoted string does not end it."""
        if not (m := _FILTER_END.match(self.s, self.i + 3)):
            raise JsonPathError("unterminated filter")
        if not self.s.startswith("]", m.end()):
            raise JsonPathError("unclosed array expect ]")
        text, self.i = self.s[self.i + 3 : m.end() - 1], m.end() + 1
        if not (m := _FILTER.fullmatch(text)):
            return ("filter", "exists", _sub(text), [])
        if m.group(2) not in _OPS:
            raise JsonPathError(f"unrecognized filter operator {m.group(2)}")
        return ("filter", m.group(2), _sub(m.group(1)), _sub(m.group(3)))


def _tokens(template: str) -> list[Token]:
    """Split a template into ("lit", text), ("out", nodes), ("range", nodes) and ("end", [])."""
    p, tokens = _Parser(template), list[Token]()
    while p.i < len(template):
        j = template.find("{", p.i)
        if j != p.i:
            tokens.append(("lit", template[p.i : j if j >= 0 else len(template)]))
            if j < 0:
                break
        p.i = j + 1
        nodes = p.action()
        if any(n[0] == "ident" for n in nodes[1:]):
            raise JsonPathError("range and end must start an action")
        head = nodes[0][1] if nodes and nodes[0][0] == "ident" else "out"
        tokens.append((head, nodes if head == "out" else nodes[1:]))
    return tokens


def _sub(text: str) -> list[Node]:
    """client-go's ``parseAction``: parse ``{text}`` whole, keep its first action."""
    kind, nodes = _tokens("{" + text + "}")[0]
    if kind != "out":
        raise JsonPathError("range and end must start an action")
    assert isinstance(nodes, list)  # an action's token: only "lit" tokens hold text
    return nodes


def _parse(template: str) -> list[Item]:
    """A template as a block of ("lit", text) | ("out", nodes) | ("range", nodes, block)."""
    tokens, memo = _tokens(template), dict[tuple[int, bool], tuple[list[Item], int, bool]]()

    def build(i: int, nested: bool) -> tuple[list[Item], int, bool]:
        """The block from token ``i`` on: (block, next token, closed by an ``end``?)."""
        key, block = (i, nested), list[Item]()
        if key not in memo:
            while i < len(tokens) and tokens[i][0] != "end":
                kind, nodes = tokens[i]
                if kind != "range":
                    block.append(tokens[i])
                    i += 1
                    continue
                body, after, closed = build(i + 1, True)
                block.append(("range", nodes, body))
                if not closed:  # kubectl then runs, outside the range, what follows the last end in it
                    ends = [k for k in range(i, len(tokens)) if tokens[k][0] == "end"]
                    block.extend(build(ends[-1] + 1 if ends else i + 1, False)[0])
                i = after
            if i < len(tokens) and not nested:
                raise JsonPathError("not in range, nothing to end")
            memo[key] = (block, i + 1, i < len(tokens))
        return memo[key]

    return build(0, False)[0]


def _children(v: object) -> list[Any]:
    if isinstance(v, dict):
        return list(v.values())
    if isinstance(v, str):
        return list(v.encode())  # Go indexes a string's bytes
    return v if isinstance(v, list) else []


def _gotype(v: object) -> str:
    return {
        dict: "map[string]interface {}",
        list: "[]interface {}",
        str: "string",
        bool: "bool",
        int: "int64",
        float: "float64",
    }.get(type(v), "<nil>")


def _compare(op: str, a: object, b: object) -> bool:
    """Go ``text/template`` eq/ne/lt/le/gt/ge: both of one basic kind; bools only (in)equal."""
    if any(v is None or isinstance(v, (dict, list)) for v in (a, b)):
        raise JsonPathError("invalid type for comparison")
    if _gotype(a) != _gotype(b):
        raise JsonPathError("incompatible types for comparison")
    if op in ("==", "!="):
        return (a == b) == (op == "==")
    if isinstance(a, str) and isinstance(b, str):
        return _order(op, a, b)
    if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, (int, float)):
        return _order(op, a, b)
    raise JsonPathError("invalid type for comparison")


def _order(op: str, a: _Ordered, b: _Ordered) -> bool:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _recurse(vals: list[Any]) -> list[Any]:
    """``..``: every value that has children, depth first (scalars are left out, as in kubectl)."""
    out: list[Any] = []
    for v in vals:
        if kids := _children(v):
            out.append(v)
            out.extend(_recurse(kids))
    return out


def _index(vals: list[Any], start: int | None, stop: int | None, derived: bool, step: int | None) -> list[Any]:
    out: list[Any] = []
    for v in vals:
        if v is None:
            continue
        if not isinstance(v, list):
            raise JsonPathError(f"{v if v is _NIL else _gotype(v)} is not array or slice")
        n = len(v)
        a = start or 0
        a += n if a < 0 else 0
        b = n if stop is None else stop
        b += n if b < 0 or (b == 0 and derived) else 0
        if a == b:
            return out  # kubectl stops at the first empty selection
        if not 0 <= a < n or not 0 <= b <= n:
            raise JsonPathError(f"array index out of bounds: index {a if not 0 <= a < n else b - 1}, length {n}")
        if a > b:
            raise JsonPathError(f"starting index {a} is greater than ending index {b}")
        if step is not None and step <= 0:
            raise JsonPathError("step must be > 0")
        out.extend(v[a:b:step])
    return out


def _filter(vals: list[Any], op: str, left: list[Node], right: list[Node]) -> list[Any]:
    out: list[Any] = []
    for v in vals:
        if not isinstance(v, list):
            raise JsonPathError(f"{_sprint(v)} is not array or slice and cannot be filtered")
        for el in v:
            if op == "exists":
                try:
                    hit = bool(_walk([el], left))
                except JsonPathError:
                    hit = True  # kubectl ignores the error and sees a partial result
                out += [el] if hit else []
                continue
            sides: list[Any] = []
            for side in (left, right):  # an empty side skips the element
                got = _walk([el], side)
                if len(got) > 1:
                    raise JsonPathError("can only compare one element at a time")
                if not got:
                    break
                sides.append(got[0])
            if len(sides) == 2 and _compare(op, *sides):
                out.append(el)
    return out


_STEPS: dict[str, Callable[..., list[Any]]] = {
    "text": lambda vals, text: [text],
    "const": lambda vals, value: [value] * len(vals),
    "field": lambda vals, key: [v[key] for v in vals if isinstance(v, dict) and key in v],
    "wild": lambda vals: [c for v in vals for c in _children(v)],
    "rec": _recurse,
    "arr": _index,
    "union": lambda vals, subs: [x for sub in subs for x in _walk(vals, sub)],
    "filter": _filter,
}


def _walk(vals: list[Any], nodes: list[Node]) -> list[Any]:
    """Apply one action's nodes in turn to the current values."""
    for kind, *args in nodes:
        vals = _STEPS[kind](vals, *args)
    return vals


def _gofloat(f: float, for_json: bool) -> str:
    """A float as Go's ``fmt.Print`` (``1e+06``) or ``encoding/json`` (``1e+21``, ``1e-7``) writes it."""
    if f != f or abs(f) == float("inf"):
        return "NaN" if f != f else ("+Inf" if f > 0 else "-Inf")
    sign = "-" if str(f).startswith("-") else ""
    _, dig, e = Decimal(repr(abs(f))).normalize().as_tuple()
    digits = "".join(map(str, dig))
    dp = len(digits) + int(e)  # the value is 0.<digits> * 10**dp
    x = dp - 1
    if (x < -6 or x >= 21) if for_json else (x < -4 or x >= 6):
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if x < 0 else '+'}{abs(x) if for_json else f'{abs(x):02d}'}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    return sign + (digits + "0" * (dp - len(digits)) if dp >= len(digits) else f"{digits[:dp]}.{digits[dp:]}")


def _scalar(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return _gofloat(v, False) if isinstance(v, float) else str(v)


def _json(v: object) -> str:
    """Go's ``json.Marshal``: compact, map keys sorted, ``<``, ``>`` and ``&`` escaped."""
    if isinstance(v, dict):
        return "{" + ",".join(f"{_json(str(k))}:{_json(v[k])}" for k in sorted(v, key=str)) + "}"
    if isinstance(v, list):
        return "[" + ",".join(map(_json, v)) + "]"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False).translate(_HTML)
    return _gofloat(v, True) if isinstance(v, float) else _scalar(v)


def _sprint(v: object) -> str:
    """Go's ``fmt.Sprint`` of a value: ``map[a:1 b:[x y]]``, ``<nil>``."""
    if v is None:
        return "<nil>"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_sprint(v[k])}" for k in sorted(v, key=str)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(map(_sprint, v)) + "]"
    return _scalar(v)


def _text(v: object) -> str:
    """One result as ``kubectl -o jsonpath`` prints it: maps and lists as JSON, the rest as text."""
    return _json(v) if isinstance(v, (dict, list)) else "<no value>" if v is _NIL else _scalar(v)


def _run(block: list[Item], cur: object, out: list[str]) -> None:
    cur = _NIL if cur is None else cur
    for item in block:
        if item[0] == "lit":
            out.append(item[1])
        elif item[0] == "out":
            out.append(" ".join(_text(v) for v in _walk([cur], item[1])))
        else:
            for element in (found := _walk([cur], item[1])):
                _run(item[2], element, out)
            if not found:  # kubectl still walks the body: its errors count, its output is dropped
                _run(item[2], _NIL, [])


def render(template: str, data: object) -> str:
    """Evaluate a kubectl JSONPath template against JSON data; return the text kubectl prints."""
    try:
        block = _parse(template)
    except JsonPathError as e:
        raise JsonPathError(f"error parsing jsonpath {template}, {e}") from None
    out: list[str] = []
    try:
        _run(block, data, out)
    except JsonPathError as e:
        raise JsonPathError(f"error executing jsonpath {template!r}: {e}") from None
    return "".join(out)


def evaluate(expr: str, data: object) -> list[Any]:
    """The values of one custom-columns expression (``.a.b``, ``a.b``, ``{.a.b}`` or ``{a.b}``)."""
    if not expr:
        return []
    if not (m := _RELAXED.fullmatch(expr)):
        raise JsonPathError(
            f"unexpected path string {expr!r}, expected a 'name1.name2' or '.name1.name2' "
            "or '{name1.name2}' or '{.name1.name2}'"
        )
    spec = "{." + (m.group(1) or m.group(2)) + "}"  # kubectl's RelaxedJSONPathExpression
    try:
        return [v for item in _parse(spec) if item[0] == "out" for v in _walk([data], item[1])]
    except JsonPathError as e:
        raise JsonPathError(f"error in jsonpath {spec}: {e}") from None


def column_value(expr: str, data: object) -> str:
    """A custom-columns cell: the values as Go prints them, joined by ``,``; ``<none>`` when none matched."""
    values = evaluate(expr, data)
    if not values:
        return "<none>"
    return ",".join(_sprint(v).replace("\x1b", "^[").replace("\r", "\\r") for v in values)
