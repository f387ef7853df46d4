"""Conflict resolution's public names (see `sqlorch.engine.conflicts`): register your own resolver
with `register_resolver(name, resolver)` and use `conflict_mode = name`."""

from sqlorch.engine.conflicts import ConflictOrder, Resolver, get_resolver, register_resolver, resolver_names

__all__ = ["ConflictOrder", "Resolver", "get_resolver", "register_resolver", "resolver_names"]
