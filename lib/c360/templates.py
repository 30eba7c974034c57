"""HTML pages from the Jinja templates shipped inside the package (the run report, a subject's export, the
review queue), escaped by default; pages load nothing from the network."""

from __future__ import annotations

from importlib import resources

from jinja2 import Environment, select_autoescape


def render(package: str, name: str, **values: object) -> str:
    """The template `name` of `package` (e.g. "c360.report", "index.html.j2") rendered with `values`."""
    template = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(template).render(**values)
