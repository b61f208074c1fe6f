"""MkDocs hooks of the documentation site (mkdocs.yml `hooks:`): the pages show the newest reproduction
report, read from reproduction/results.json at every build, so they never hold numbers by hand.

- A line `<!-- reproduction-rows: <paper> -->` (paper: a registry name of `neurobolts.reproduce`, e.g.
  `dsa`, `inductive_bias`) becomes that paper's rows of the report as a table, with the date and machine
  of its runs and its figures.
- A line `<!-- reproduction-report -->` becomes the whole report (every row, the rows that do not hold,
  the figures, the runs), as reproduction/REPORT.md shows it.

The tables are rendered by `neurobolts.reproduce.report`, the module that writes REPORT.md and the
README's summary, so the site and the report cannot differ. The report's figures and results.json are
added to the site's files under `reproduction/` (`on_files`), so their links resolve in strict mode and
the built site holds them."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

from neurobolts.reproduce import report
from neurobolts.reproduce.registry import PAPERS

ROOT = Path(__file__).resolve().parents[1]
REPORT_DIR = ROOT / "reproduction"
SITE_FOLDER = "reproduction"  # the report's files in the built site: reproduction/figures/*.png, results.json
ROWS_MARKER = re.compile(r"^<!--\s*reproduction-rows:\s*(.*?)\s*-->[ \t]*$", re.M)
REPORT_MARKER = re.compile(r"^<!--\s*reproduction-report\s*-->[ \t]*$", re.M)


def load_entries(path: Path = REPORT_DIR / "results.json") -> dict[str, dict]:
    """The papers' entries of results.json (`{"papers": {name: entry}}`), in the report's order."""
    try:
        papers = json.loads(path.read_text())["papers"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PluginError(f"cannot read the reproduction results {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(papers, dict):
        raise PluginError(f"{path}: 'papers' must be a mapping of paper name to entry, got {type(papers).__name__}")
    return papers


def paper_markdown(name: str, entries: dict[str, dict], prefix: str) -> str:
    """The block that replaces `<!-- reproduction-rows: name -->`: date and machine, the paper's rows,
    its figures. `prefix`: the site's reproduction/ folder as seen from the page."""
    if name not in PAPERS:
        raise PluginError(f"<!-- reproduction-rows: {name} -->: unknown paper {name!r}; "
                          f"choose from: {', '.join(PAPERS)}")
    if name not in entries:
        raise PluginError(f"<!-- reproduction-rows: {name} -->: reproduction/results.json has no entry for {name!r} "
                          f"(it has: {', '.join(entries) or 'none'}); run `make reproduce ARGS=\"--papers {name}\"`")
    mine = {name: entries[name]}
    return "\n".join([report.summary_line(mine) + f" Command: `{entries[name]['command'].strip()}`.", "",
                      report.table(mine, link_figures=prefix), "", *report.figures_markdown(mine, prefix)]).rstrip()


def site_prefix(page_src_uri: str) -> str:
    """The relative link from a page's folder to the site's reproduction/ folder, with a trailing slash
    ("reproduction/" from the top level, "../reproduction/" from experiments/)."""
    return posixpath.relpath(SITE_FOLDER, posixpath.dirname(page_src_uri) or ".") + "/"


def render(markdown: str, page_src_uri: str, entries: dict[str, dict] | None = None) -> str:
    """`markdown` with every reproduction marker replaced (the page's own text is left as it is)."""
    if not ROWS_MARKER.search(markdown) and not REPORT_MARKER.search(markdown):
        return markdown
    entries = load_entries() if entries is None else entries
    prefix = site_prefix(page_src_uri)
    markdown = ROWS_MARKER.sub(lambda m: paper_markdown(m.group(1), entries, prefix), markdown)
    return REPORT_MARKER.sub(lambda m: report.report_markdown(entries, prefix=prefix, title=False).rstrip(),
                             markdown)


def on_files(files, config):
    """Add the report's figures and results.json to the site (under reproduction/), where the rendered
    tables link them."""
    paths = [*sorted((REPORT_DIR / "figures").glob("*.png")), REPORT_DIR / "results.json"]
    for path in paths:
        if path.is_file():
            src_uri = f"{SITE_FOLDER}/{path.relative_to(REPORT_DIR).as_posix()}"  # from the project root
            files.append(File(src_uri, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def on_page_markdown(markdown, page, config, files):
    """Each page's Markdown before MkDocs renders it: the reproduction markers replaced (`render`)."""
    return render(markdown, page.file.src_uri)
