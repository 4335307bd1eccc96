"""The condition language: group names joined by ``and``, ``or``, ``not``, parentheses and
``N of (a, b, c)``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Set
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


def looks_at_story(name: str, scopes: Mapping[str, str], negated: bool) -> bool:
    """Whether a group is looked for in the whole story rather than the window: a ``scope``
    says so; without one, a group under ``not`` looks at the story and any other at the window."""
    scope = scopes.get(name)
    return scope == "story" if scope else negated


def window_lookups(
    expr: Expr, scopes: Mapping[str, str], negated: bool = False, odd: bool = False
) -> Iterator[tuple[str, bool]]:
    """(group, counts against) for every place the condition looks for a group in the window;
    a group counts against the condition under an odd number of ``not``."""
    match expr:
        case Group(name):
            if not looks_at_story(name, scopes, negated):
                yield name, odd
        case Not(operand):
            yield from window_lookups(operand, scopes, True, not odd)
        case All(operands) | AnyOf(operands) | AtLeast(_, operands):
            for operand in operands:
                yield from window_lookups(operand, scopes, negated, odd)


def evaluate(
    expr: Expr,
    window: Set[str],
    story: Set[str],
    scopes: Mapping[str, str] | None = None,
    negated: bool = False,
) -> bool:
    """True when the condition holds for the groups in ``window``; a group under ``not`` or
    scoped to the story looks at ``story`` instead, unless it is scoped to the window."""
    scopes = scopes or {}
    match expr:
        case Group(name):
            return name in (story if looks_at_story(name, scopes, negated) else window)
        case Not(operand):
            return not evaluate(operand, window, story, scopes, True)
        case All(operands):
            return all(evaluate(o, window, story, scopes, negated) for o in operands)
        case AnyOf(operands):
            return any(evaluate(o, window, story, scopes, negated) for o in operands)
        case AtLeast(count, operands):
            return sum(evaluate(o, window, story, scopes, negated) for o in operands) >= count
    raise TypeError(expr)


GroupTest = Callable[[int, int], bool]
"""A compiled condition: (groups in the window, groups in the story), each a bit set."""

_WINDOW, _STORY, _NOWHERE = 0, 1, 2


def _never(window: int, story: int) -> bool:
    return False


def compile_condition(
    expr: Expr,
    bits: Mapping[str, int],
    scopes: Mapping[str, str] | None = None,
    *,
    best_case: bool = False,
) -> GroupTest:
    """``expr`` over bit sets of groups (``bits`` gives each group its bit); always agrees with
    ``evaluate`` on the same groups, without walking the expression for every window.

    With ``best_case``, a group that counts against the condition from the window is taken as
    absent: given the story's groups as the window, the test then holds whenever some window of
    the story could satisfy the condition."""
    return _Compiler(bits, scopes or {}, best_case).compile(expr, False, False)


class _Compiler:
    def __init__(self, bits: Mapping[str, int], scopes: Mapping[str, str], best_case: bool) -> None:
        self.bits = bits
        self.scopes = scopes
        self.best_case = best_case

    def place(self, name: str, negated: bool, odd: bool) -> int:
        if looks_at_story(name, self.scopes, negated):
            return _STORY
        return _NOWHERE if self.best_case and odd else _WINDOW

    def compile(self, expr: Expr, negated: bool, odd: bool) -> GroupTest:
        match expr:
            case Group(name):
                bit = self.bits[name]
                place = self.place(name, negated, odd)
                if place == _STORY:
                    return lambda window, story: story & bit != 0
                if place == _WINDOW:
                    return lambda window, story: window & bit != 0
                return _never
            case Not(operand):
                inner = self.compile(operand, True, not odd)
                return lambda window, story: not inner(window, story)
            case All(operands):
                return self.all_of(operands, negated, odd)
            case AnyOf(operands):
                return self.any_of(operands, negated, odd)
            case AtLeast(count, operands):
                tests = [self.compile(o, negated, odd) for o in operands]
                return lambda window, story: sum(test(window, story) for test in tests) >= count
        raise TypeError(expr)

    def all_of(self, operands: tuple[Expr, ...], negated: bool, odd: bool) -> GroupTest:
        required = [0, 0, 0]
        forbidden = [0, 0, 0]
        rest: list[GroupTest] = []
        for operand in operands:
            if isinstance(operand, Group):
                required[self.place(operand.name, negated, odd)] |= self.bits[operand.name]
                continue
            vetoes = _vetoing_names(operand)
            if vetoes:
                for name in vetoes:
                    forbidden[self.place(name, True, not odd)] |= self.bits[name]
            else:
                rest.append(self.compile(operand, negated, odd))
        if required[_NOWHERE]:
            return _never
        return _all_test(
            required[_WINDOW], required[_STORY], forbidden[_WINDOW], forbidden[_STORY], rest
        )

    def any_of(self, operands: tuple[Expr, ...], negated: bool, odd: bool) -> GroupTest:
        anyone = [0, 0, 0]
        others: list[GroupTest] = []
        for operand in operands:
            if isinstance(operand, Group):
                anyone[self.place(operand.name, negated, odd)] |= self.bits[operand.name]
            else:
                others.append(self.compile(operand, negated, odd))
        in_window, in_story = anyone[_WINDOW], anyone[_STORY]
        if in_story:
            return lambda window, story: (
                window & in_window != 0
                or story & in_story != 0
                or any(test(window, story) for test in others)
            )
        if not others:
            return lambda window, story: window & in_window != 0
        if len(others) == 1:
            (other,) = others
            return lambda window, story: window & in_window != 0 or other(window, story)
        return lambda window, story: (
            window & in_window != 0 or any(test(window, story) for test in others)
        )


def _all_test(
    required: int,
    required_in_story: int,
    forbidden_in_window: int,
    forbidden: int,
    rest: list[GroupTest],
) -> GroupTest:
    """All of: the ``required`` groups in the window, the ``forbidden`` ones nowhere in the story,
    and every test in ``rest``."""
    if required_in_story or forbidden_in_window:
        return lambda window, story: (
            window & required == required
            and story & required_in_story == required_in_story
            and not story & forbidden
            and not window & forbidden_in_window
            and all(test(window, story) for test in rest)
        )
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


def _vetoing_names(expr: Expr) -> tuple[str, ...]:
    """For ``not a`` or ``not (a or b …)`` over plain names, the names that veto; else ()."""
    if not isinstance(expr, Not):
        return ()
    operand = expr.operand
    if isinstance(operand, Group):
        return (operand.name,)
    if isinstance(operand, AnyOf) and all(isinstance(o, Group) for o in operand.operands):
        return tuple(o.name for o in operand.operands if isinstance(o, Group))
    return ()
