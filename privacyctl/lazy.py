"""Modules loaded on first use: a command imports only what it runs.

Every command module is imported to build the command line, and the client's models of
the five services (pydantic classes built at import) and PyYAML cost most of a second of
start-up; ``log verify`` needs none but the audit service's. So the command modules name
the other services' calls and models through :func:`module`, which loads a module when
one of its attributes is first read (the standard library's ``importlib.util.LazyLoader``);
under ``TYPE_CHECKING`` they import them as usual, so mypy checks every use.
"""

import importlib.util
import sys
from types import ModuleType


def module(name: str) -> ModuleType:
    """``name``, loaded when an attribute of it is first read (at once if loaded already)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    lazy = importlib.util.module_from_spec(spec)
    sys.modules[name] = lazy
    loader.exec_module(lazy)
    return lazy
