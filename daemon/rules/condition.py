"""The condition language: group names joined by ``and``, ``or``, ``not``, parentheses and
``N of (a, b, c)``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(?:(?P<number>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_-]*)|(?P<symbol>[(),]))")
_KEYWORDS = frozenset({"and", "or", "not", "of"})


class ConditionError(ValueError):
    """A condition that cannot be parsed; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Group:
    name: str


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class All:
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class AnyOf:
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class AtLeast:
    count: int
    operands: tuple[Expr, ...]


Expr = Group | Not | All | AnyOf | AtLeast


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    stripped_end = len(source.rstrip())
    while position < stripped_end:
        found = _TOKEN.match(source, position)
        if not found:
            column = position + len(source[position:]) - len(source[position:].lstrip()) + 1
            raise ConditionError(f"unexpected character {source[column - 1]!r}", column)
        kind = found.lastgroup or "symbol"
        text = found.group(kind)
        column = found.start(kind) + 1
        if kind == "name" and text.lower() in _KEYWORDS:
            kind, text = "keyword", text.lower()
        tokens.append(_Token(kind, text, column))
        position = found.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self, kind: str, text: str | None = None) -> _Token | None:
        token = self.current
        if token.kind == kind and (text is None or token.text == text):
            self.index += 1
            return token
        return None

    def expect(self, kind: str, text: str, what: str) -> None:
        if self.take(kind, text) is None:
            found = self.current.text or "end of condition"
            raise ConditionError(f"expected {what}, found {found!r}", self.current.column)

    def parse(self) -> Expr:
        if self.current.kind == "end":
            raise ConditionError("condition is empty", 1)
        expr = self.either()
        if self.current.kind != "end":
            raise ConditionError(
                f"unexpected {self.current.text!r}; join groups with and / or",
                self.current.column,
            )
        return expr

    def either(self) -> Expr:
        operands = [self.both()]
        while self.take("keyword", "or"):
            operands.append(self.both())
        return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    def both(self) -> Expr:
        operands = [self.negation()]
        while self.take("keyword", "and"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else All(tuple(operands))

    def negation(self) -> Expr:
        if self.take("keyword", "not"):
            return Not(self.negation())
        return self.atom()

    def atom(self) -> Expr:
        token = self.current
        if self.take("symbol", "("):
            expr = self.either()
            self.expect("symbol", ")", "')'")
            return expr
        if self.take("name"):
            return Group(token.text)
        if self.take("number"):
            return self.at_least(token)
        found = token.text or "end of condition"
        raise ConditionError(f"expected a group name or '(', found {found!r}", token.column)

    def at_least(self, number: _Token) -> Expr:
        self.expect("keyword", "of", f"'of' after {number.text}")
        self.expect("symbol", "(", f"'(' after '{number.text} of'")
        operands = [self.either()]
        while self.take("symbol", ","):
            operands.append(self.either())
        self.expect("symbol", ")", "',' or ')'")
        count = int(number.text)
        if not 1 <= count <= len(operands):
            raise ConditionError(
                f"'{count} of' needs between 1 and {len(operands)} for {len(operands)} items",
                number.column,
            )
        return AtLeast(count, tuple(operands))


def parse_condition(source: str) -> Expr:
    """Parse a condition; raises ConditionError with the column of the mistake."""
    return _Parser(source).parse()


def group_names(expr: Expr) -> list[str]:
    """Every group named in the expression, in order of first appearance."""
    match expr:
        case Group(name):
            return [name]
        case Not(operand):
            return group_names(operand)
        case All(operands) | AnyOf(operands) | AtLeast(_, operands):
            return list(dict.fromkeys(n for o in operands for n in group_names(o)))
    raise TypeError(expr)


def positive_names(expr: Expr) -> list[str]:
    """Groups that count inside the window (those not under ``not``)."""
    match expr:
        case Group(name):
            return [name]
        case Not():
            return []
        case All(operands) | AnyOf(operands) | AtLeast(_, operands):
            return list(dict.fromkeys(n for o in operands for n in positive_names(o)))
    raise TypeError(expr)


def evaluate(expr: Expr, window: Set[str], story: Set[str]) -> bool:
    """True when the condition holds for the groups in ``window``; ``not`` looks at ``story``."""
    match expr:
        case Group(name):
            return name in window
        case Not(operand):
            return not evaluate(operand, story, story)
        case All(operands):
            return all(evaluate(o, window, story) for o in operands)
        case AnyOf(operands):
            return any(evaluate(o, window, story) for o in operands)
        case AtLeast(count, operands):
            return sum(evaluate(o, window, story) for o in operands) >= count
    raise TypeError(expr)


GroupTest = Callable[[int, int], bool]
"""A compiled condition: (groups in the window, groups in the story), each a bit set."""


def compile_condition(expr: Expr, bits: Mapping[str, int]) -> GroupTest:
    """``expr`` over bit sets of groups (``bits`` gives each group its bit); always agrees with
    ``evaluate`` on the same groups, without walking the expression for every window."""
    match expr:
        case Group(name):
            bit = bits[name]
            return lambda window, story: window & bit != 0
        case Not(operand):
            inner = compile_condition(operand, bits)
            return lambda window, story: not inner(story, story)
        case All(operands):
            required = _bits_of(operands, bits)
            forbidden = 0
            rest: list[GroupTest] = []
            for operand in operands:
                if isinstance(operand, Group):
                    continue
                vetoed = _vetoed_bits(operand, bits)
                if vetoed:
                    forbidden |= vetoed
                else:
                    rest.append(compile_condition(operand, bits))
            if not rest:
                return lambda window, story: window & required == required and not story & forbidden
            if len(rest) == 1:
                (only,) = rest
                return lambda window, story: (
                    window & required == required and not story & forbidden and only(window, story)
                )
            return lambda window, story: (
                window & required == required
                and not story & forbidden
                and all(test(window, story) for test in rest)
            )
        case AnyOf(operands):
            anyone = _bits_of(operands, bits)
            others = [compile_condition(o, bits) for o in operands if not isinstance(o, Group)]
            if not others:
                return lambda window, story: window & anyone != 0
            if len(others) == 1:
                (other,) = others
                return lambda window, story: window & anyone != 0 or other(window, story)
            return lambda window, story: (
                window & anyone != 0 or any(test(window, story) for test in others)
            )
        case AtLeast(count, operands):
            tests = [compile_condition(o, bits) for o in operands]
            return lambda window, story: sum(test(window, story) for test in tests) >= count
    raise TypeError(expr)


def _bits_of(operands: tuple[Expr, ...], bits: Mapping[str, int]) -> int:
    """The bits of the operands that are plain group names."""
    found = 0
    for operand in operands:
        if isinstance(operand, Group):
            found |= bits[operand.name]
    return found


def _vetoed_bits(expr: Expr, bits: Mapping[str, int]) -> int:
    """For ``not a`` or ``not (a or b …)`` over plain names, the bits that veto; else 0."""
    if not isinstance(expr, Not):
        return 0
    operand = expr.operand
    if isinstance(operand, Group):
        return bits[operand.name]
    if isinstance(operand, AnyOf) and all(isinstance(o, Group) for o in operand.operands):
        return _bits_of(operand.operands, bits)
    return 0
