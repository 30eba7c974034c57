"""Every public module, class, function and method of c360 says what it does and why (a method may take its
docstring from the base class whose contract it implements)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import c360


def undocumented() -> list[str]:
    """`module.name` of every public object defined in c360 without a docstring."""
    missing = []
    for info in pkgutil.walk_packages(c360.__path__, "c360."):
        module = importlib.import_module(info.name)
        if not inspect.getdoc(module):
            missing.append(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != info.name:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if not inspect.getdoc(obj):
                missing.append(f"{info.name}.{name}")
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not inspect.isfunction(member):
                        continue
                    if not inspect.getdoc(getattr(obj, attr)):
                        missing.append(f"{info.name}.{name}.{attr}")
    return missing


def test_every_public_function_says_what_and_why() -> None:
    assert undocumented() == []
