"""A griffe extension that turns the Sphinx roles in sctpmh's docstrings into Markdown.

sctpmh's docstrings refer to other objects the reST way (``:class:`Stream```,
``:meth:`fast_failover```, ``:class:`~sctpmh.AddressError```). mkdocstrings renders docstrings
as Markdown, where such a role would show up as literal text. This extension rewrites each role
before rendering: a target that is part of the public API (a name in ``sctpmh.__all__`` or one
of its members) becomes a cross-reference to its entry in the API reference, anything else
(``ValueError``, the ``socket`` module, internal helpers) becomes inline code, so the strict
build never meets a link it cannot resolve. It also drops the reST literal-block marker ``::``
at the end of a line; the indented block after it is already a Markdown code block.

It only reads the docstrings griffe loaded; the source files are not touched. Loaded from
mkdocs.yml (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

PACKAGE = "sctpmh"

# :role:`target` or :role:`~dotted.target` (the tilde shows only the last component).
_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj):`(?P<tilde>~?)(?P<target>[^`]+)`")
# A reST literal-block marker at the end of a line ("Accepted inputs::").
_LITERAL_MARKER = re.compile(r"(?<=\S)::$", re.MULTILINE)


class SphinxRoles(griffe.Extension):
    """Rewrite the roles in every docstring of the sctpmh package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != PACKAGE:
            return
        public = _public_paths(pkg)
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _rewrite(obj.docstring.value, obj, loader, public)


def _public_paths(pkg: griffe.Module) -> dict[str, str]:
    """Canonical path -> the public path the API reference documents it under, for every
    name in ``__all__`` and every member of those (``sctpmh.config.Config.rto_min`` ->
    ``sctpmh.Config.rto_min``)."""
    paths: dict[str, str] = {}

    def add(obj: griffe.Object | griffe.Alias, public: str) -> None:
        target = obj.final_target if isinstance(obj, griffe.Alias) else obj
        paths.setdefault(target.path, public)
        if isinstance(target, griffe.Class):
            for name, member in target.members.items():
                if not isinstance(member, griffe.Alias):
                    add(member, f"{public}.{name}")

    for name in pkg.exports or ():
        if isinstance(name, str) and name in pkg.members:
            add(pkg.members[name], f"{PACKAGE}.{name}")
    return paths


def _objects(obj: griffe.Object) -> list[griffe.Object]:
    """``obj`` and everything defined in it (aliases are someone else's object)."""
    found = [obj]
    for member in obj.members.values():
        if not isinstance(member, griffe.Alias):
            found.extend(_objects(member))
    return found


def _rewrite(
    text: str, obj: griffe.Object, loader: griffe.GriffeLoader, public: dict[str, str]
) -> str:
    def replace(match: re.Match[str]) -> str:
        target = match["target"].strip()
        shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
        canonical = _canonical(target, obj, loader)
        if canonical is not None and canonical in public:
            return f"[`{shown}`][{public[canonical]}]"
        return f"`{shown}`"

    return _LITERAL_MARKER.sub(":", _ROLE.sub(replace, text))


def _canonical(target: str, obj: griffe.Object, loader: griffe.GriffeLoader) -> str | None:
    """The canonical path ``target`` names as seen from ``obj``, or None when it is not an
    object of the package (a builtin, another module, a typo)."""
    if target.split(".", 1)[0] == PACKAGE:
        path = target
    else:
        first, _, rest = target.partition(".")
        try:
            path = obj.resolve(first)
        except griffe.NameResolutionError:
            return None
        if rest:
            path = f"{path}.{rest}"
    try:
        found = loader.modules_collection[path]
        return str(found.final_target.path if isinstance(found, griffe.Alias) else found.path)
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
