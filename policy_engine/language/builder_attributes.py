"""The AST builder's part for typed attributes of terms: ``attribute NAME of KIND: TYPE …``
statements and the ``with NAME = VALUE`` values a term's declaration gives."""

from __future__ import annotations

from typing import Any

from lark.tree import Meta

from . import ast
from .builder_base import BuilderBase, Tagged, with_meta
from .errors import Diagnostic


class AttributeBuilder(BuilderBase):
    """Builds the nodes of attribute declarations and of the values terms give them."""

    def attribute_values(self, children: list[ast.AttributeValue]) -> Tagged:
        return Tagged("attributes", tuple(children))

    @with_meta
    def attribute_value(self, meta: Meta, children: list[Any]) -> ast.AttributeValue:
        """``location = "US"``; another comparison than `=` is an error where it is written."""
        name, op, value = children
        if str(op) != "=":
            self.problems.append(
                Diagnostic(
                    "bad-attribute-value",
                    f"`{op}` cannot give a value; write `{name} = …`",
                    self._tspan(op),
                    'a term\'s attribute is given with `=`, e.g. `with location = "US"`',
                )
            )
        return ast.AttributeValue(self._name(name), value, self._span(meta))

    @with_meta
    def attribute_decl(self, meta: Meta, children: list[Any]) -> ast.AttributeDecl:
        name, kind, type_, *rest = children
        tags = {c.tag: c.value for c in rest}
        return ast.AttributeDecl(
            name=self._name(name),
            kind=str(kind),  # type: ignore[arg-type]
            type=type_,
            default=tags.get("default"),
            description=tags.get("description"),
            citations=tags.get("citations", ()),
            span=self._span(meta),
        )
