"""The pages without a browser: the options, what the file holds (and does not), the
language, the vendored libraries against their pins, the flow's counts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from journeyctl.pages.flow import DONE, START, flow_chart
from journeyctl.spec.loader import load_project
from tests.pages.project import ROOT, SIM_ARGS, STOCK, cli, report_db, simulate_stock


def test_html_needs_out(tmp_path: Path) -> None:
    code, _, err = cli("simulate", str(STOCK), *SIM_ARGS, "--format", "html")
    assert code == 2
    assert "--format html writes a page: give --out FILE.html" in err
    proj, db = report_db(tmp_path, contacts=4)
    code, _, err = cli("report", str(proj), "--db", str(db), "--format", "html")
    assert code == 2
    assert "give --out FILE.html" in err


def test_simulate_page_is_self_contained_and_aggregated(tmp_path: Path) -> None:
    page = tmp_path / "month.html"  # the format follows the name, as .json and .csv do
    code, _, err = cli("simulate", str(STOCK), *SIM_ARGS, "--out", str(page))
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert '<html lang="ko">' in html and "시뮬레이션" in html
    # Nothing fetched: every script inline, and outside the scripts no link, image, font or
    # import at all (the browser test also watches the requests the scripts make).
    assert not re.search(r"<script[^>]*\bsrc=", html)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"\b(src|href)\s*=|@import|url\(", markup)
    assert "Chart.js v4.5.1" in html  # the vendored libraries, inlined
    assert 'id="journeyctl-mermaid"' in html
    # Aggregates, not messages: only the sampled stories name contacts.
    contacts = set(re.findall(r"\bc\d{4}\b", html))
    stories = set(re.findall(r'data-contact="(c\d{4})"', html))
    assert 1 <= len(stories) <= 6 and contacts == stories


def test_report_page_language_and_numbers(tmp_path: Path) -> None:
    proj, db = report_db(tmp_path)
    page = tmp_path / "r.html"
    code, _, err = cli("report", str(proj), "--db", str(db), "--format", "html", "--out", str(page))
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "A/B tests" in html
    assert "rework the subject line" in html
    # http.language picks the language when set.
    (proj / "journey.yaml").write_text(
        (proj / "journey.yaml").read_text(encoding="utf-8") + "http: {language: ko}\n",
        encoding="utf-8",
    )
    code, _, err = cli("report", str(proj), "--db", str(db), "--out", str(page))
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert '<html lang="ko">' in html and "A/B 실험" in html and "성과 리포트" in html


def test_report_page_without_a_project_draws_no_flows(tmp_path: Path) -> None:
    _, db = report_db(tmp_path, contacts=6)
    page = tmp_path / "r.html"
    code, _, err = cli("report", str(tmp_path / "none"), "--db", str(db), "--out", str(page))
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert '<pre class="mermaid"' not in html and 'id="journeyctl-mermaid"' not in html
    assert len(html) < 400_000  # Mermaid (2.7 MB) is left out when there is no flow to draw
    assert "Chart.js v4.5.1" in html


def test_flow_chart_puts_counts_under_the_nodes() -> None:
    seq = load_project(STOCK).sequences["welcome"]
    first = next(iter(seq.flow.nodes))
    text = flow_chart(seq, {START: ["entered 12"], first: ["sent 1,234"], DONE: ["completed 3"]})
    assert '<br/>entered 12"' in text
    assert '<br/>sent 1,234"' in text
    assert '<br/>completed 3"' in text


def test_vendored_libraries_match_their_pins() -> None:
    import journeyctl.pages

    # The package's own copy: the checkout's, or the installed wheel's in CI's wheel run.
    vendor = Path(journeyctl.pages.__file__).parent / "vendor"
    manifest = json.loads((vendor / "manifest.json").read_text(encoding="utf-8"))
    assert {k: v["version"] for k, v in manifest.items()} == {
        "chart.js": "4.5.1",
        "mermaid": "11.12.2",
    }
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "vendor_assets.py"),
            "--check",
            "--dir",
            str(vendor),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for pin in manifest.values():
        assert any("LICENSE" in f for f in pin["files"]), "each library ships with its licence"


def test_stock_page_numbers_equal_the_json(tmp_path: Path) -> None:
    page = tmp_path / "s.html"
    doc = simulate_stock(page)
    html = page.read_text(encoding="utf-8")
    charts = json.loads(
        re.search(r'id="journeyctl-charts">(.*?)</script>', html, re.S).group(1)  # type: ignore[union-attr]
    )
    summary = doc["summary"]
    assert isinstance(summary, dict)
    for name, s in summary.items():
        assert sum(charts[f"per-day-{name}"]["data"]["datasets"][0]["data"]) == s["sent"]


def test_local_days_on_quarter_hour_zones() -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from journeyctl.pages.days import LocalDays

    for zone in ("Asia/Kathmandu", "Asia/Kolkata", "America/St_Johns", "Europe/Berlin"):
        tz = ZoneInfo(zone)
        days = LocalDays(tz)
        start = datetime(2026, 3, 28, tzinfo=UTC)  # over Berlin's change to summer time
        for minute in range(0, 3 * 24 * 60, 5):
            at = start + timedelta(minutes=minute, seconds=7)
            assert days(at) == at.astimezone(tz).date().isoformat(), (zone, at)


def test_exit_steps_show_their_count_zero_included(tmp_path: Path) -> None:
    page = tmp_path / "s.html"
    doc = simulate_stock(page)
    html = page.read_text(encoding="utf-8")
    exited = doc["summary"]["win-back"]["exited"]  # type: ignore[index]
    for reason in ("re-engaged", "converted"):  # win-back's two exit steps
        assert f"exit: {reason}&lt;br/&gt;이탈 {exited.get(reason, 0):,}&#34;" in html, reason
