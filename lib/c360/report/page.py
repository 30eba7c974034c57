"""The report page: summary figures as tables, plotly plots, links to Splink's charts. It loads nothing from
the network: plotly's script is a file beside the run folders (clusters and CI have no general internet)."""

from __future__ import annotations

import plotly
from plotly.offline import get_plotlyjs

from c360.report.figures import figures
from c360.templates import render as render_template

PLOTLY_JS = f"plotly-{plotly.__version__}.min.js"


def plotly_script() -> str:
    """plotly's JavaScript, the one file every run's page shares."""
    return get_plotlyjs()


def render(summary: dict, charts: list[str], plotly_src: str) -> str:
    """index.html for `summary`, linking `charts` (file names in the run folder); `plotly_src` is where the
    page finds plotly's script, relative to it."""
    plots = {name: fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{name}",
                                config={"displaylogo": False, "responsive": True})
             for name, fig in figures(summary).items()}
    return render_template("c360.report", "index.html.j2", s=summary, plots=plots, charts=charts, plotly_src=plotly_src)
