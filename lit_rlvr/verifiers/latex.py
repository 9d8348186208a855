"""A small recursive-descent parser from LaTeX or plain-text math to SymPy expressions.

Written here instead of using `sympy.parsing.latex` (which needs ANTLR or Lark, and evaluates
eagerly) or `parse_expr` (which calls `eval`). Every literal becomes an exact `Rational`, and every
power and factorial is size-checked before SymPy computes it, so no input can make it hang.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import sympy

from lit_rlvr.verifiers.calculus import definite_integral, finite_sum
from lit_rlvr.verifiers.guards import MAX_BITS, MAX_FACTORIAL, MAX_TERMS, TooLarge, check_power_bits

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<cmd>\\[a-zA-Z]+|\\[{}|])|(?P<word>[a-zA-Z]+)"
    r"|(?P<op>\*\*|<=|>=|!=|[-+*/^_=<>(){}\[\],|!'&]|\\\\))"
)
_FUNCTIONS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "sec": sympy.sec, "csc": sympy.csc,
    "cot": sympy.cot, "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "sinh": sympy.sinh,
    "cosh": sympy.cosh, "tanh": sympy.tanh, "ln": sympy.log, "exp": sympy.exp, "log": sympy.log,
    "lg": sympy.log, "floor": sympy.floor, "ceil": sympy.ceiling, "abs": sympy.Abs,
}  # fmt: skip
_INVERSES = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
_CONSTANTS = {"pi": sympy.pi, "infty": sympy.oo, "infinity": sympy.oo, "inf": sympy.oo, "e": sympy.E}
_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
}  # fmt: skip
_MATRICES = ("pmatrix", "bmatrix", "matrix", "Bmatrix", "vmatrix", "smallmatrix", "array")
# Tokens that end an implicit product such as `2x` or a function argument such as `\sin 2x`.
_STOP = {
    ")", "]", "}", ",", "=", "<", ">", "<=", ">=", "!=", "&", "\\\\", "|", "\\}", "+", "-", "^", "_", "!",
    "\\end", "\\rfloor", "\\rceil", "\\approx", "\\in", "\\pm", "\\mp", "\\cup",
}  # fmt: skip


class ParseError(ValueError):
    """The text is not an expression this parser understands."""


def tokenize(text: str) -> list[str]:
    """Splits `text` into number, command, word and operator tokens."""
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ParseError(f"unexpected character {text[position]!r}")
        tokens.append(match.group(match.lastgroup).strip())
        position = match.end()
    return tokens


def _is_number(token: str) -> bool:
    return token[0].isdigit() or token[0] == "."


def _bits(value: sympy.Rational) -> int:
    return max(abs(value.p).bit_length(), abs(value.q).bit_length())


def power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """Returns `base ** exponent`, refusing exact results too large to build."""
    if base.is_Rational and exponent.is_Rational and abs(base) not in (0, 1):
        check_power_bits(_bits(base), exponent.p)
        if exponent.q != 1 and _bits(base) > 2000:  # root extraction factors the base
            raise TooLarge("root of a huge number")
    elif exponent.is_Rational and abs(exponent.p) > 10_000:  # symbolic towers expand on comparison
        raise TooLarge("exponent too large")
    elif base.is_number and exponent.is_number:  # e^{e^{e^e}}: estimate the size before any evalf
        magnitude = abs(complex(exponent.evalf(15))) * max(
            1.0, abs(math.log2(abs(complex(base.evalf(15))) or 1))
        )
        if not magnitude <= MAX_BITS:
            raise TooLarge("power too large")
    return sympy.Pow(base, exponent)


class _Parser:
    def __init__(self, tokens: list[str], bound: frozenset[str] = frozenset()) -> None:
        self.tokens = tokens
        self.index = 0
        self.bound = bound  # variables of an enclosing sum or integral: `i` there is not the unit
        self.terms_left = MAX_TERMS  # shared by every sum in the answer

    def peek(self, offset: int = 0) -> str | None:
        position = self.index + offset
        return self.tokens[position] if position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise ParseError(f"expected {expected or 'more input'}, got {token!r}")
        self.index += 1
        return token

    def done(self) -> bool:
        return self.index >= len(self.tokens)

    def expression(self) -> sympy.Expr:
        value = self.term()
        while self.peek() in ("+", "-", "\\pm", "\\mp"):
            operator = self.take()
            if operator in ("\\pm", "\\mp"):
                raise ParseError("± inside an expression")
            right = self.term()
            value = value + right if operator == "+" else value - right
        return value

    def term(self) -> sympy.Expr:
        value = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "/"):
                self.take()
                right = self.unary()
                if token == "/":
                    if right == 0:
                        raise ParseError("division by zero")
                    right = power(right, sympy.Integer(-1))
                value = value * right
            elif token is not None and token not in _STOP:
                if _is_number(token) and _is_number(self.tokens[self.index - 1]):
                    raise ParseError("two numerals side by side")  # `3 4` is a list or a typo, never 12
                value = value * self.power()
            else:
                return value

    def unary(self) -> sympy.Expr:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.postfix(self.primary())
        if self.peek() in ("^", "**"):
            self.take()
            exponent = self.exponent()
            return power(base, exponent)
        return base

    def exponent(self) -> sympy.Expr:
        if self.peek() == "{":
            return self.group("{", "}")
        if self.peek() in ("-", "+"):
            sign = -1 if self.take() == "-" else 1
            return sign * self.exponent()
        return self.power()

    def postfix(self, value: sympy.Expr) -> sympy.Expr:
        while self.peek() == "!":
            self.take()
            if not (value.is_Integer and 0 <= value <= MAX_FACTORIAL):
                raise TooLarge("factorial argument")
            value = sympy.factorial(value)
        return value

    def group(self, opening: str, closing: str) -> sympy.Expr:
        self.take(opening)
        value = self.expression()
        self.take(closing)
        return value

    def argument(self) -> sympy.Expr:
        """A LaTeX macro argument: `{...}` or a single token (`\\frac12`, `\\sqrt3`)."""
        if self.peek() == "{":
            return self.group("{", "}")
        token = self.peek()
        if token is not None and token.isdigit() and len(token) > 1:
            # `\frac12` is 1/2: the first digit is the argument, the rest stays in the stream.
            self.tokens[self.index] = token[1:]
            return sympy.Integer(token[0])
        return self.primary()

    def primary(self) -> sympy.Expr:
        token = self.take()
        if _is_number(token):
            if self.peek() == "_":  # a numeral in another base, `204_5`, is compared as written
                return self.subscript(sympy.Symbol(token))
            return sympy.Rational(Fraction(token))
        if token in ("(", "[", "{"):
            return self._close(self.expression(), {"(": ")", "[": "]", "{": "}"}[token])
        if token == "|":
            return self._close(sympy.Abs(self.expression()), "|")
        if token.startswith("\\"):
            return self.command(token[1:])
        if token.isalpha():
            return self.word(token)
        raise ParseError(f"unexpected {token!r}")

    def _close(self, value: sympy.Expr, closing: str) -> sympy.Expr:
        self.take(closing)
        return value

    def word(self, word: str) -> sympy.Expr:
        if word in self.bound:
            return sympy.Symbol(word)
        if word in _FUNCTIONS or word == "sqrt":
            return self.command(word)
        if word in _CONSTANTS and word != "e" or word == "i":
            return _CONSTANTS.get(word, sympy.I)
        if len(word) == 1:
            return self.subscript(sympy.E if word == "e" else sympy.Symbol(word))
        symbols = [sympy.Symbol(letter) for letter in word]  # `xy` is x times y, as in LaTeX
        symbols[-1] = self.subscript(symbols[-1])
        return sympy.Mul(*symbols)

    def subscript(self, symbol: sympy.Expr) -> sympy.Expr:
        if self.peek() != "_":
            return symbol
        self.take()
        index = self.take()
        if index == "{":
            parts = []
            while self.peek() not in ("}", None):
                parts.append(self.take())
            self.take("}")
            index = "".join(parts)
        return sympy.Symbol(f"{symbol}_{index}")

    def command(self, name: str) -> sympy.Expr:
        if name in ("frac", "over"):
            numerator, denominator = self.argument(), self.argument()
            if denominator == 0:
                raise ParseError("division by zero")
            return numerator * power(denominator, sympy.Integer(-1))
        if name == "sqrt":
            if self.peek() == "[":
                degree = self.group("[", "]")
                return power(self.argument(), 1 / degree)
            return power(self.argument(), sympy.Rational(1, 2))
        if name == "binom":
            n, k = self.argument(), self.argument()
            if n.is_Integer and abs(n) > 2 * MAX_FACTORIAL:
                raise TooLarge("binomial too large")
            return sympy.binomial(n, k)
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name == "i":
            return sympy.I
        if name in _GREEK:
            return self.subscript(sympy.Symbol(name))
        if name in ("lfloor", "lceil"):
            value = self.expression()
            self.take("\\rfloor" if name == "lfloor" else "\\rceil")
            return sympy.floor(value) if name == "lfloor" else sympy.ceiling(value)
        if name in _FUNCTIONS:
            return self.function(name)
        if name == "begin":
            return self.matrix()
        if name == "sum":
            return self.sum()
        if name == "int":
            return self.integral()
        raise ParseError(f"unknown command \\{name}")

    def function(self, name: str) -> sympy.Expr:
        base = None
        if name == "log" and self.peek() == "_":
            self.take()
            base = self.argument()
        exponent = None
        if self.peek() in ("^", "**"):
            self.take()
            exponent = self.exponent()
        if self.peek() == "(":
            argument = self.group("(", ")")
        else:  # `\sin 2x` is sin(2x); the argument ends at the next operator or function
            argument = self.power()
            while self.peek() is not None and self.peek() not in _STOP and self.peek() not in ("*", "/"):
                if self.peek().lstrip("\\") in _FUNCTIONS:
                    break
                argument = argument * self.power()
        value = _FUNCTIONS[name](argument) if base is None else sympy.log(argument, base)
        if exponent == -1 and name in _INVERSES:  # `\sin^{-1} x` is arcsin, not 1/sin
            return _FUNCTIONS[_INVERSES[name]](argument)
        return value if exponent is None else power(value, exponent)

    def sum(self) -> sympy.Expr:
        """`\\sum_{k=1}^{10} k^2`: the summand is the product that follows, as in `\\sum k + 1`."""
        self.take("_")
        self.take("{")
        name = self.take()
        if not (name.isalpha() and len(name) == 1):
            raise ParseError("a sum's index must be one letter")
        self.take("=")
        low = self.expression()
        self.take("}")
        self.take("^")
        high = self.argument()
        outer, self.bound = self.bound, self.bound | {name}
        summand = self.term()
        self.bound = outer
        value = finite_sum(summand, sympy.Symbol(name), low, high, self.terms_left)
        if value is None:
            raise ParseError("a sum that is not finite and numeric")
        self.terms_left -= int(high - low + 1)
        return value

    def integral(self) -> sympy.Expr:
        """`\\int_0^1 x^2 dx`: the integrand runs to the differential (`dx`, or `d x` from `\\mathrm{d}x`)."""
        self.take("_")
        low = self.argument()
        self.take("^")
        high = self.argument()
        depth = 0
        for end in range(self.index, len(self.tokens)):
            token = self.tokens[end]
            depth += (token in "([{") - (token in ")]}")
            if depth == 0 and re.fullmatch(r"d[a-zA-Z]", token):
                name, after = token[1], end + 1
                break
            following = self.tokens[end + 1] if end + 1 < len(self.tokens) else ""
            if depth == 0 and token == "d" and re.fullmatch(r"[a-zA-Z]", following):
                name, after = following, end + 2
                break
        else:
            raise ParseError("an integral without its differential")
        inner = _Parser(self.tokens[self.index : end], self.bound | {name})
        inner.terms_left = self.terms_left
        integrand = inner.expression()
        if not inner.done():
            raise ParseError(f"unexpected {inner.peek()!r} in an integrand")
        self.index, self.terms_left = after, inner.terms_left
        value = definite_integral(integrand, sympy.Symbol(name), low, high)
        if value is None:
            raise ParseError("an integral beyond polynomials and exp, sin, cos of a linear argument")
        return value

    def matrix(self) -> sympy.Expr:
        self.take("{")
        kind = self.take()
        self.take("}")
        if kind not in _MATRICES:
            raise ParseError(f"unknown environment {kind}")
        if kind == "array" and self.peek() == "{":  # column spec such as {cc} or {c|c}
            while self.take() != "}":
                pass
        rows, row = [], []
        while True:
            row.append(self.expression())
            separator = self.take()
            if separator == "\\\\" and self.peek() != "\\end":
                rows.append(row)
                row = []
            elif separator in ("\\\\", "\\end"):
                if separator == "\\\\":
                    self.take("\\end")
                for expected in ("{", kind, "}"):
                    self.take(expected)
                break
            elif separator != "&":
                raise ParseError(f"unexpected {separator!r} in a matrix")
        rows.append(row)
        if len({len(r) for r in rows}) != 1:
            raise ParseError("ragged matrix")
        return sympy.ImmutableMatrix(rows)


def parse_expression(text: str) -> sympy.Expr:
    """Parses `text` into a SymPy expression; raises `ParseError` or `TooLarge`."""
    parser = _Parser(tokenize(text))
    if parser.done():
        raise ParseError("empty expression")
    value = parser.expression()
    if not parser.done():
        raise ParseError(f"unexpected {parser.peek()!r}")
    return value
