"""The checker's rules about packages' names: a policy declares names of its own (a qualified
name is a package's); a declaration of a package's term places it under other terms; and a
namespace is not also a name of the policy."""

from __future__ import annotations

from ..language import ast
from .check_state import CheckState, article, kind_word
from .namespacing import local_part, qualified


def own_name(
    state: CheckState, package: str, name: ast.Name, what: str, hint: str | None = None
) -> None:
    """``name`` is declared by a file of ``package``: it must be that policy's own, not a name
    of a package it uses (``law25.staff``); ``hint``: the help, when not the placing of a
    term."""
    if local_part(package, name.value) is not None:
        return
    shown = name.value[len(package) + 1 :] if package else name.value
    namespace = shown.split(".", 1)[0]
    state.error(
        "qualified-declaration",
        f"`{shown}` is a name of the package `{namespace}`: {what} of this policy has a name "
        "of its own",
        name.span,
        hint
        or "write the name without a namespace; only a package's term can be placed "
        f"(`party {shown} under …`)",
    )


def namespaces_used(state: CheckState) -> set[str]:
    """Every namespace of a package some file of the policy uses, qualified (``law25``,
    ``law25.base``)."""
    return {
        qualified(package, item.namespace.value)
        for package, item in state.items_by_package()
        if isinstance(item, ast.UseDecl)
    }


def own_key_name(state: CheckState, package: str, name: ast.Name, namespaces: set[str]) -> None:
    """A context key of ``package`` is its own (:func:`own_name`), or a dotted key of its own
    (``record.author``: facts about a record, grouped) whose first part is no namespace."""
    if package and not name.value.startswith(package + "."):
        own_name(state, package, name, "a context key")
        return
    local = name.value[len(package) + 1 :] if package else name.value
    first = local.split(".", 1)[0]
    if "." in local and qualified(package, first) not in namespaces:
        return
    own_name(state, package, name, "a context key")


def place(state: CheckState, placed: ast.Name, decl: ast.TermDecl) -> bool:
    """Whether ``decl`` may place the package's term ``placed`` under its parents (an error
    when it may not): the term exists, is of the declaration's kind, and only parents are
    given (a package's term keeps its own description)."""
    target = state.symbols.get(placed.value)
    word = kind_word(decl.kind)
    if target is None:
        state.error(
            "unknown-term",
            f"unknown {word} `{placed.value}`",
            placed.span,
            state.suggest(placed.value, decl.kind)
            or "a name with a namespace is a package's term; only those can be placed",
        )
        return False
    if target.kind != decl.kind:
        found = kind_word(target.kind)
        state.error(
            "wrong-kind-placement",
            f"`{placed.value}` is {article(found)} {found}, not {article(word)} {word}",
            placed.span,
            f"place it with `{target.kind} {placed.value} under …`",
        )
        return False
    if not decl.parents or decl.description is not None or decl.attributes:
        state.error(
            "bad-placement",
            f"`{placed.value}` is the package's own: this policy can only place it under its "
            "terms or another package's",
            placed.span,
            f"write `{decl.kind} {placed.value} under PARENT`, without a description or "
            "attribute values (a term of the policy placed under it can give them)",
        )
        return False
    return True


def check_namespaces(state: CheckState) -> None:
    """A namespace is one name, and not also a term, obligation or context key of the policy
    that uses it; a source document's name is one name too."""
    for package, item in state.items_by_package():
        if isinstance(item, ast.SourceDecl) and item.name is not None:
            own_name(state, package, item.name, "a source document")
        if not isinstance(item, ast.UseDecl):
            continue
        own_name(state, package, item.namespace, "a namespace")
        clash = state.symbols.get(item.namespace.value)
        if clash is not None:
            word = kind_word(clash.kind)
            state.error(
                "namespace-clash",
                f"`{item.namespace.value}` is the namespace of a package and "
                f"{article(word)} {word} of this policy",
                item.namespace.span,
                "give the package another namespace: `use OTHER from …`",
                notes=(("declared here", clash.span),) if clash.span else (),
            )
