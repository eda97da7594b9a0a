"""The dashboard's words: both languages hold the same words, and every word a page asks for exists."""

from __future__ import annotations

import ast
import string
from datetime import date
from pathlib import Path

import jinja2
from jinja2 import nodes

from service.dashboard import report, screens
from service.dashboard.i18n import LANGUAGES, WORDS

SERVICE = Path(__file__).resolve().parent.parent / "service"
TEMPLATES = sorted((SERVICE / "templates" / "dashboard").glob("*.html"))
MODULES = sorted((SERVICE / "dashboard").glob("*.py"))

_SPANS = report.periods(date(2026, 11, 28), 0)
TEMPLATE_CHOICES = {
    "card.name": [*_SPANS, "total"],
    "card.vs": [vs for *_, vs in _SPANS.values()],
    '"top_" ~ name': [f"top_{name}" for name in report.TOP_PERIODS],
    "reasons": report.NOT_COUNTED_REASONS,
    "sorts": screens.SORTS,
}
"""What a word the templates choose at run time can be: by the expression passed to w(), or by the
view's list a loop runs over. An expression not here fails the test until it is added."""

PYTHON_CHOICES = {"refused.words": ("Refused", 1)}
"""Words carried in an attribute: the class they are given to, and at which argument."""


def fields(text: str) -> set[str]:
    """The {placeholders} of a word."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_both_languages_have_the_same_words_and_placeholders():
    """Switching the dashboard between Vietnamese and English never breaks on a word only one language has."""
    vi, en = WORDS["vi"], WORDS["en"]
    assert set(LANGUAGES) == set(WORDS)
    assert set(vi) ^ set(en) == set()  # a word in one language only
    # A word filled in with values (w("days", n=30)) raises KeyError if a translation names another.
    assert {k: fields(vi[k]) for k in vi if fields(vi[k]) != fields(en[k])} == {}


def describe(node: nodes.Node) -> str:
    """A template expression as it reads in TEMPLATE_CHOICES."""
    if isinstance(node, nodes.Const):
        return f'"{node.value}"'
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{describe(node.node)}.{node.attr}"
    if isinstance(node, nodes.Concat):
        return " ~ ".join(describe(n) for n in node.nodes)
    if isinstance(node, nodes.Tuple):
        return "(" + ", ".join(describe(n) for n in node.items) + ")"
    return type(node).__name__


def template_words(tree: nodes.Node, loops: dict[str, nodes.Node], found: dict, unknown: list, name: str) -> None:
    """Collect the words of every w(...) in template ``name``, resolving loop variables through their loops."""
    if isinstance(tree, nodes.For):
        template_words(tree.iter, loops, found, unknown, name)
        targets = [tree.target] if isinstance(tree.target, nodes.Name) else tree.target.find_all(nodes.Name)
        inner = {**loops, **{t.name: tree.iter for t in targets}}
        for child in (*tree.body, *tree.else_):
            template_words(child, inner, found, unknown, name)
        return
    if isinstance(tree, nodes.Call) and isinstance(tree.node, nodes.Name) and tree.node.name == "w":
        arg = tree.args[0]
        where = f"{name}: w({describe(arg)})"
        if isinstance(arg, nodes.Const):
            words = [arg.value]
        elif isinstance(arg, nodes.Name) and arg.name in loops:
            over = loops[arg.name]
            where += f" for {arg.name} in {describe(over)}"
            if isinstance(over, nodes.Tuple) and all(isinstance(item, nodes.Const) for item in over.items):
                words = [item.value for item in over.items]
            else:
                words = TEMPLATE_CHOICES.get(describe(over))
        else:
            words = TEMPLATE_CHOICES.get(describe(arg))
        if words is None:
            unknown.append(where)
        for word in words or ():
            found.setdefault(word, where)
    for child in tree.iter_child_nodes():
        template_words(child, loops, found, unknown, name)


def strings_of(value: ast.expr) -> list[str] | None:
    """The words an expression can be: a string, a choice between them, or a dict's .get(); else None."""
    if isinstance(value, ast.Constant):
        return [value.value] if isinstance(value.value, str) else []
    if isinstance(value, ast.IfExp):
        body, orelse = strings_of(value.body), strings_of(value.orelse)
        return None if body is None or orelse is None else body + orelse
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "get"
            and isinstance(value.func.value, ast.Dict)):
        parts = [strings_of(v) for v in (*value.func.value.values, *value.args[1:])]
        return None if None in parts else [s for part in parts for s in part]
    return None


def is_words_call(call: ast.Call, in_words_class: bool) -> bool:
    func = call.func
    return ((isinstance(func, ast.Name) and func.id in ("w", "words"))
            or (isinstance(func, ast.Attribute) and func.attr == "words" and isinstance(func.value, ast.Name)
                and func.value.id == "g")
            or (in_words_class and isinstance(func, ast.Name) and func.id == "self"))


def assignments(scope: ast.AST) -> dict[str, list]:
    """The words each name is given in ``scope`` (None for a value strings_of cannot read)."""
    assigned: dict[str, list] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(strings_of(node.value))
    return assigned


def python_words(source: str, found: dict, unknown: list, name: str) -> None:
    """Collect the words of every w(...), words(...), g.words(...) (and Words' own self(...)) in a module."""
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    scope_of: dict[int, ast.AST] = {}  # each call's innermost function (or the module)
    for scope in (tree, *(f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)))):
        scope_of.update((id(n), scope) for n in ast.walk(scope) if isinstance(n, ast.Call))
    words_class = {id(n) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) and c.name == "Words"
                   for n in ast.walk(c)}
    for call in calls:
        if not is_words_call(call, id(call) in words_class) or not call.args:
            continue
        arg, where = call.args[0], f"{name}: {ast.unparse(call)}"
        assigned = assignments(scope_of[id(call)]) if isinstance(arg, ast.Name) else {}
        if isinstance(arg, ast.Name) and arg.id in assigned:
            parts = assigned[arg.id]
        elif ast.unparse(arg) in PYTHON_CHOICES:
            carrier, position = PYTHON_CHOICES[ast.unparse(arg)]
            parts = [strings_of(c.args[position]) for c in calls
                     if isinstance(c.func, ast.Name) and c.func.id == carrier and len(c.args) > position]
        else:
            parts = [strings_of(arg)]
        words = None if not parts or None in parts else [s for part in parts for s in part]
        if not words:
            unknown.append(where)
        for word in words or ():
            found.setdefault(word, where)


def asked_words() -> tuple[dict[str, str], list[str]]:
    """Every word the dashboard's templates and modules ask for (and where), and the calls not understood."""
    found: dict[str, str] = {}
    unknown: list[str] = []
    env = jinja2.Environment()
    for path in TEMPLATES:
        template_words(env.parse(path.read_text()), {}, found, unknown, path.name)
    for path in MODULES:
        python_words(path.read_text(), found, unknown, path.name)
    return found, unknown


def test_every_word_a_page_asks_for_exists_in_both_languages():
    """No dashboard page or message breaks (a 500 from a KeyError) for a word missing in either language."""
    found, unknown = asked_words()
    assert unknown == [], "teach TEMPLATE_CHOICES or PYTHON_CHOICES what these words can be"
    # The search itself works: words from templates, loops, run-time choices and the views' messages.
    assert {"signin", "visits", "trend", "vs_last_month", "top_7d", "ip_limited", "sort_by", "wrong_token",
            "unavailable", "signed_out", "no_change"} <= set(found), sorted(found)
    for lang in LANGUAGES:
        missing = {word: where for word, where in found.items() if word not in WORDS[lang]}
        assert missing == {}, lang
