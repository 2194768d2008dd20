"""Read a rendered report page back with the standard HTML parser, as a person's browser would."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class ReportPage:
    bars: list[dict[str, str]] = field(default_factory=list)  # timeline rects: server, phase, class
    rto_markers: int = 0
    rto_label: str = ""
    server_rows: dict[str, list[str]] = field(default_factory=dict)  # server id -> its cells' text
    failed_rows: list[list[str]] = field(default_factory=list)
    readiness_rows: list[list[str]] = field(default_factory=list)  # check, finding, effect
    history_runs: list[str] = field(default_factory=list)  # run ids of a history page's table, in order
    sha256: str = ""
    scripts: int = 0
    external: list[str] = field(default_factory=list)  # src/href attributes: a page must fetch nothing
    text: str = ""


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = ReportPage()
        self.table: str | None = None
        self.row: list[str] | None = None
        self.row_server: str | None = None
        self.cell: list[str] | None = None
        self.capture: str | None = None
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.page.scripts += 1
        for key in ("src", "href"):
            if a.get(key):
                self.page.external.append(a[key])
        classes = (a.get("class") or "").split()
        if tag == "rect" and "phase" in classes:
            self.page.bars.append({"server": a.get("data-server", ""), "phase": a.get("data-phase", ""),
                                   "class": a.get("class", "")})
        elif tag == "line" and "rto-marker" in classes:
            self.page.rto_markers += 1
        elif tag == "text" and "rto-label" in classes:
            self.capture = "rto_label"
        elif tag == "code" and "sha256" in classes:
            self.capture = "sha256"
        elif tag == "table":
            self.table = a.get("id")
        elif tag == "tr":
            self.row, self.row_server = [], a.get("data-server")
            if self.table == "runs" and a.get("data-run"):
                self.page.history_runs.append(a["data-run"])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.table == "servers" and self.row_server:
                self.page.server_rows[self.row_server] = self.row
            elif self.table == "failed" and self.row and self.row[0] != "wave":
                self.page.failed_rows.append(self.row)
            elif self.table == "readiness" and self.row and self.row[0] != "check":
                self.page.readiness_rows.append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None
        elif tag in ("text", "code"):
            self.capture = None

    def handle_data(self, data):
        self.chunks.append(data)
        if self.cell is not None:
            self.cell.append(data)
        if self.capture:
            setattr(self.page, self.capture, getattr(self.page, self.capture) + data)


def read_page(html: str) -> ReportPage:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader.page.text = " ".join(" ".join(reader.chunks).split())
    return reader.page
