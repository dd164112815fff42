"""HTML pages a marketer opens: `simulate --format html` and `report --format html`.

One self-contained file per page: the vendored libraries (vendor/, pinned in manifest.json,
re-fetched by scripts/vendor_assets.py) are inlined, so the page needs no network. The numbers
are aggregates built here from the commands' data (pages.simulate_page, pages.report_page);
the page draws them with Chart.js (charts) and Mermaid (the flow with counts at each node).

The API other pages build on (docs/decisions/pages.md):

- `render_page(kind, data, lang) -> str`: the template `templates/<kind>.html.j2` inside the
  base page (header, styles, the scripts it needs), `data` as its context;
- `flow.flow_chart(seq, counts) -> str`: a sequence's Mermaid flow with lines of numbers
  under each node (`counts` keyed by step id, or `flow.START` / `flow.DONE` / `flow.NOTE`);
- in templates, `{% from "components.html.j2" import flow, chart, flow_pair %}`: a flow's block, a
  chart's canvas (its config in `data["charts"][id]`, a Chart.js config), two flows side by side;
- `texts.language(settings)` and `texts.TEXTS[lang]`: the labels in Korean and English.
"""

from __future__ import annotations

from journeyctl.pages.render import render_page

__all__ = ["render_page"]
