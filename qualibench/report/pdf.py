"""PDF output: the report's own HTML printed by headless Chromium (Playwright, system Chromium).

One browser prints many documents: a tab is reused from one document to the next, so a
campaign's 500 brand fiches cost one browser start per worker process, not one per brand.
The tab runs no script and has no network (the HTML carries everything inline), so a reply's
markup can neither run nor fetch anything while it is printed.

Chromium prints running headers through CSS page-margin boxes of named pages, and page numbers
with counter(page) / counter(pages); it has no target-counter(), so the contents page gets its
page numbers after the print: every section is a named destination of the PDF (the contents
links to it), whose page is read back from the PDF's own page tree. The document is printed
once, with the contents' number slots empty (they keep their width, so filling them moves
nothing); then only the pages up to the end of the contents are printed again, with the numbers
filled in and everything else hidden, and those pages are stamped onto the first pages of the
PDF (pypdf, an incremental update: the rest of the file is left as Chromium wrote it).
"""

from __future__ import annotations

import re
from pathlib import Path

TIMEOUT_MS = 600_000  # a 500-brand report is a 3 MB page: a loaded machine may take minutes
TOC_SLOT = 'class="toc-page"'
# Run by the printer only (the page's own scripts are disabled): the contents' page numbers.
FILL_TOC = """(pages) => { for (const el of document.querySelectorAll('.toc-page'))
  el.textContent = pages[el.dataset.for] === undefined ? '' : String(pages[el.dataset.for]); }"""
_REF = re.compile(rb"(\d+) 0 R")


def _launch_args() -> list[str]:
    # root in a container has no user namespace sandbox; nothing here ever loads a remote page
    return ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--no-first-run"]


def require_printer() -> str:
    """Return the Chromium executable, or raise DependencyMissing naming what to install."""
    from ..channels.browserform import require_chromium

    return require_chromium("PDF output", "pdf", "prints with")


class Printer:
    """A headless Chromium that prints HTML documents to PDF files; use it as a context manager."""

    def __enter__(self) -> Printer:
        executable = require_printer()
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=executable, headless=True, args=_launch_args())
            context = self._browser.new_context(java_script_enabled=False, offline=True)
            self._page = context.new_page()
            self._page.set_default_timeout(TIMEOUT_MS)
        except BaseException:
            self._pw.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._browser.close()
        finally:
            self._pw.stop()

    def _print(self) -> bytes:
        return self._page.pdf(prefer_css_page_size=True, print_background=True, outline=True)

    def pdf(self, html: str, out: Path) -> Path:
        """Write `html` as a PDF at `out` (contents page numbers filled in when it has one)."""
        self._page.set_content(html, wait_until="load")
        data = self._print()
        if TOC_SLOT in html:
            pages = destination_pages(data)
            numbers = numbers_only(html) if _have_pypdf() else None
            # a user's template whose contents cannot be cut out, or no pypdf: print again
            if numbers is None:
                # the numbers fit the space the first print kept for them: pagination is unchanged
                self._page.evaluate(FILL_TOC, pages)
                data = self._print()
            else:
                self._page.set_content(numbers, wait_until="load")
                self._page.evaluate(FILL_TOC, pages)
                data = stamp(data, self._print())
        Path(out).write_bytes(data)
        return Path(out)


# Everything of the document hidden but the contents' page numbers, and no page-margin box: the
# print of the pages up to the contents' end that is stamped onto the first print's pages.
_NUMBERS_ONLY = """<style>
@media print { html, body { background: transparent !important; }
  body * { visibility: hidden !important; }
  .toc-page { visibility: visible !important; } }
@page { @top-left { content: none; } @top-center { content: none; } @top-right { content: none; }
  @bottom-left { content: none; } @bottom-center { content: none; } @bottom-right { content: none; } }
@page :first { @top-left { content: none; } @top-right { content: none; } @bottom-right { content: none; } }
</style>"""
_TOC_END = re.compile(r'<nav class="toc"[^>]*>.*?</nav>', re.S)


def _have_pypdf() -> bool:
    try:
        import pypdf  # noqa: F401
    except ImportError:
        return False
    return True


def numbers_only(html: str) -> str | None:
    """Return the document up to the end of its contents, with only the page-number slots shown.

    None when there is no `<nav class="toc">` followed by the body's next part, or no `</head>`.
    What comes before the contents' end lays out as in the whole document (the contents ends
    with a page break), so its pages are the whole document's first pages.
    """
    head = html.find("</head>")
    toc = _TOC_END.search(html)
    if head < 0 or toc is None or toc.start() < head:
        return None
    return html[:head] + _NUMBERS_ONLY + html[head:toc.end()] + "</body></html>"


def stamp(data: bytes, numbers: bytes) -> bytes:
    """Return the PDF `data` with each page of `numbers` drawn over the page of the same rank."""
    import io

    from pypdf import PdfReader, PdfWriter

    over = PdfReader(io.BytesIO(numbers))
    writer = PdfWriter(io.BytesIO(data), incremental=True)
    if len(over.pages) > len(writer.pages):
        raise ValueError("the contents' pages outnumber the document's")
    for i, page in enumerate(over.pages):
        writer.pages[i].merge_page(page)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def print_many(jobs: list[tuple[str, str]]) -> list[str]:
    """Print (html, path) pairs with one browser; return the paths (a worker process's task)."""
    with Printer() as printer:
        return [str(printer.pdf(html, Path(path))) for html, path in jobs]


def _objects(data: bytes) -> dict[int, bytes]:
    """Return object number -> dictionary text of every dictionary object of a PDF.

    Chromium (Skia) writes plain, uncompressed object dictionaries and a classic xref table; the
    offsets of that table locate each object, so bytes inside content streams are never read as one.
    """
    start = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    m = re.match(rb"xref\s+(\d+)\s+(\d+)\s+", data[start:])
    if m is None:
        raise ValueError("the PDF has no classic cross-reference table")
    first, count = int(m.group(1)), int(m.group(2))
    table = data[start + m.end():]
    out = {}
    for i in range(count):
        entry = table[i * 20:i * 20 + 18].split()
        if len(entry) == 3 and entry[2] == b"n":
            at = int(entry[0])
            ends = [e for e in (data.find(b"endobj", at), data.find(b"stream", at)) if e >= 0]
            out[first + i] = data[at:min(ends)] if ends else data[at:]
    return out


def destination_pages(data: bytes) -> dict[str, int]:
    """Return each named destination of a Chromium PDF (an element id) -> its page number (1-based)."""
    objs = _objects(data)
    catalog = next(body for body in objs.values() if re.search(rb"/Type\s*/Catalog\b", body))

    def ref(body: bytes, key: bytes) -> int | None:
        m = re.search(rb"/" + key + rb"\s+(\d+) 0 R", body)
        return int(m.group(1)) if m else None

    order: list[int] = []

    def walk(num: int) -> None:
        body = objs.get(num, b"")
        kids = re.search(rb"/Kids\s*\[([^\]]*)\]", body)
        if kids is None:
            order.append(num)
            return
        for k in _REF.findall(kids.group(1)):
            walk(int(k))

    walk(ref(catalog, b"Pages"))
    page_of = {num: i + 1 for i, num in enumerate(order)}
    dests = objs.get(ref(catalog, b"Dests") or -1, b"")
    out = {}
    for name, page in re.findall(rb"/([^\s/\[\]<>()]+)\s*\[\s*(\d+) 0 R", dests):
        key = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), name).decode("utf-8", "replace")
        if int(page) in page_of:
            out[key] = page_of[int(page)]
    return out
