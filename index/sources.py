"""Read the corpus: turn source files into `Document`s with sections and offsets.

Accepted inputs, in a directory or given as a single file:

- ``.md``: optional YAML front matter (title, author, publisher, url, updated, ...) and a
  Markdown body whose ATX headings (``## Heading``) start sections;
- ``.txt``: the first non-empty line is the title, the rest is the body (headings as in .md);
- ``.html`` / ``.htm``: main text extracted with trafilatura (navigation and boilerplate dropped);
- ``.pdf``: the text layer, headings found by font size, page numbers left out (pdf_text.py);
- ``.docx``: Word's paragraphs and tables, its headings kept as sections (docx_text.py);
- ``corpus.jsonl`` (BEIR layout): one ``{"_id", "title", "text"}`` object per line, one document each.

A file with no usable text, one that cannot be read, and any other file in the directory (an old
.doc, a picture, a spreadsheet) is reported as `Skipped` with the reason and what to do, and left
out; the build goes on. Only question banks (``<source_id>.questions.yaml``, read by bank.py) and
hidden files are passed over without a word. Text before the first heading belongs to the section named
`LEAD_SECTION`. The source id of a file is its name without extension.

Not here: sentence splitting and passages (passages.py), embedding (embedder.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

from .docx_text import read_docx
from .errors import SourcesError, UnreadableSource
from .pdf_text import read_pdf

LEAD_SECTION = "Introduction"
BEIR_CORPUS_NAME = "corpus.jsonl"
METADATA_KEYS = ("author", "publisher", "url", "updated", "title_note", "editor_note")

_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


@dataclass(frozen=True)
class Section:
    """A run of body text under one heading: `body[start:end]`."""

    heading: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """One source, as the index sees it."""

    source_id: str
    title: str
    body: str
    sections: tuple[Section, ...]
    sha256: str
    path: str
    metadata: dict = field(default_factory=dict)

    @property
    def url(self) -> str | None:
        return self.metadata.get("url") or None


@dataclass(frozen=True)
class Skipped:
    """A source file left out of the build, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...]


def split_sections(body: str) -> tuple[Section, ...]:
    """Cut a Markdown body into sections at its ATX headings.

    >>> [s.heading for s in split_sections("Lead.\\n## A\\nText a.\\n## B\\nText b.")]
    ['Introduction', 'A', 'B']
    """
    sections: list[Section] = []
    heading, start = LEAD_SECTION, 0
    for match in _HEADING.finditer(body):
        if body[start:match.start()].strip():
            sections.append(Section(heading, start, match.start()))
        heading, start = match.group(2).strip().rstrip(":").strip(), match.end()
    if body[start:].strip():
        sections.append(Section(heading, start, len(body)))
    return tuple(sections)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _metadata(raw: dict) -> dict:
    meta = {}
    for key in METADATA_KEYS:
        value = raw.get(key)
        if value not in (None, ""):
            meta[key] = str(value)
    return meta


def _document(source_id: str, title: str, body: str, digest: str, path: Path, meta: dict) -> Document:
    sections = split_sections(body)
    if not sections:
        raise UnreadableSource("it has no body text")
    return Document(source_id, title.strip() or source_id, body, sections, digest, str(path), meta)


def _read_markdown(path: Path, raw: bytes) -> Document:
    try:
        post = frontmatter.loads(raw.decode("utf-8"))
    except yaml.YAMLError as exc:
        raise UnreadableSource(f"its YAML front matter is invalid ({exc.__class__.__name__}); fix the block between the '---' lines") from exc
    title = str(post.metadata.get("title") or "")
    if not title:
        first_heading = _HEADING.search(post.content)
        title = first_heading.group(2) if first_heading else path.stem
    return _document(path.stem, title, post.content, _sha256(raw), path, _metadata(post.metadata))


def _read_text(path: Path, raw: bytes) -> Document:
    text = raw.decode("utf-8")
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip():
            title, body = line.strip().lstrip("#").strip(), "".join(lines[i + 1 :])
            return _document(path.stem, title, body, _sha256(raw), path, {})
    raise UnreadableSource("it is empty")


def _read_html(path: Path, raw: bytes) -> Document:
    import trafilatura  # heavy import, needed only for HTML sources

    html = raw.decode("utf-8", errors="replace")
    body = trafilatura.extract(html, output_format="markdown", include_comments=False, include_tables=False, favor_precision=True)
    if not body or not body.strip():
        raise UnreadableSource("no main text could be extracted from the HTML")
    meta_obj = trafilatura.extract_metadata(html)
    meta = {}
    title = ""
    if meta_obj is not None:
        title = meta_obj.title or ""
        meta = _metadata({"author": meta_obj.author, "publisher": meta_obj.sitename, "url": meta_obj.url, "updated": meta_obj.date})
    return _document(path.stem, title, body, _sha256(raw), path, meta)


def _read_pdf(path: Path, raw: bytes) -> Document:
    title, body = read_pdf(raw)
    return _document(path.stem, title, body, _sha256(raw), path, {})


def _read_docx(path: Path, raw: bytes) -> Document:
    title, body = read_docx(raw)
    return _document(path.stem, title, body, _sha256(raw), path, {})


_READERS = {
    ".md": _read_markdown, ".markdown": _read_markdown, ".txt": _read_text, ".html": _read_html, ".htm": _read_html,
    ".pdf": _read_pdf, ".docx": _read_docx,
}
READ_SUFFIXES = (".md", ".txt", ".html", ".pdf", ".docx")
COMPANION_SUFFIXES = (".questions.yaml",)  # read beside an article by bank.py, not a source of their own
_SAVE_AS = "save it as .docx or PDF (File > Save As) and rebuild"
_NOT_READ = {
    ".doc": "it is an old Word 97-2003 file; " + _SAVE_AS,
    ".rtf": "RTF is not read; " + _SAVE_AS,
    ".odt": "OpenDocument text is not read; " + _SAVE_AS,
    ".pages": "Apple Pages files are not read; export it as PDF or Word and rebuild",
    ".pptx": "slides are not read; export them as PDF and rebuild",
    ".ppt": "slides are not read; export them as PDF and rebuild",
}
_PICTURES = (".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".heic", ".webp", ".bmp")


def unread_reason(path: Path) -> str:
    """Why a file in the sources directory is not read, and what to do instead.

    >>> unread_reason(Path("leaflet.doc"))
    'it is an old Word 97-2003 file; save it as .docx or PDF (File > Save As) and rebuild'
    """
    suffix = path.suffix.lower()
    if path.name.startswith("~$"):
        return "it is Word's lock file for a document open in Word; it goes away when Word is closed"
    if suffix in _NOT_READ:
        return _NOT_READ[suffix]
    if suffix in _PICTURES:
        return "it is a picture, and text in a picture is not read; add the handout as text, .docx or a text PDF"
    return f"it is not a kind of file the build reads ({', '.join(READ_SUFFIXES)} or {BEIR_CORPUS_NAME})"


def _read_beir(path: Path) -> tuple[list[Document], list[Skipped]]:
    documents, skipped = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Skipped(str(path), f"cannot be read ({exc}); check its permissions and that it is UTF-8")]
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(Skipped(where, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict) or not str(record.get("_id", "")).strip():
            skipped.append(Skipped(where, 'each line needs an object with "_id", "title" and "text"'))
            continue
        text, title = str(record.get("text") or ""), str(record.get("title") or "")
        if not text.strip():
            skipped.append(Skipped(where, "its text is empty"))
            continue
        digest = _sha256(json.dumps([title, text], ensure_ascii=False).encode("utf-8"))
        body = text if text.endswith("\n") else text + "\n"
        sections = (Section(LEAD_SECTION, 0, len(body)),)
        documents.append(Document(str(record["_id"]).strip(), title.strip() or str(record["_id"]), body, sections, digest, where, {}))
    return documents, skipped


def _source_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _is_readable(path: Path, root: Path) -> bool:
    suffix = path.suffix.lower()
    if path.name.startswith("~$"):  # Word's lock file beside an open document
        return False
    return suffix in _READERS or path.name == BEIR_CORPUS_NAME or (root.is_file() and suffix == ".jsonl")


def load_corpus(sources: str | Path) -> Corpus:
    """Read every usable source under `sources` (a directory or one file).

    Raises `SourcesError` when `sources` is missing, holds no source files, or yields no
    usable document, and when two files would share a source id.
    """
    root = Path(sources)
    if not root.exists():
        raise SourcesError(f"Sources not found: {root}. Pass --sources with a directory of .md/.txt/.html/.pdf/.docx files or a corpus.jsonl.")
    files = [p for p in _source_files(root) if not p.name.lower().endswith(COMPANION_SUFFIXES)]
    readable = [p for p in files if _is_readable(p, root)]
    documents: list[Document] = []
    skipped = [Skipped(str(p), unread_reason(p)) for p in files if p not in readable]
    if not readable:
        unread = "".join(f" {s.path}: {s.reason}." for s in skipped)
        raise SourcesError(
            f"No source files in {root}. Add {', '.join(READ_SUFFIXES)} files or a {BEIR_CORPUS_NAME} "
            f"(see README, 'Adding your own articles').{unread}"
        )
    for path in readable:
        if path.suffix == ".jsonl":
            docs, skips = _read_beir(path)
            documents.extend(docs)
            skipped.extend(skips)
            continue
        try:
            raw = path.read_bytes()
            documents.append(_READERS[path.suffix.lower()](path, raw))
        except OSError as exc:
            skipped.append(Skipped(str(path), f"cannot be read ({exc.strerror or exc}); check the file's permissions"))
        except UnicodeDecodeError:
            skipped.append(Skipped(str(path), "it is not UTF-8 text; save it as UTF-8"))
        except UnreadableSource as exc:
            skipped.append(Skipped(str(path), str(exc)))
    seen: dict[str, str] = {}
    for doc in documents:
        if doc.source_id in seen:
            raise SourcesError(
                f"Two sources share the id '{doc.source_id}': {seen[doc.source_id]} and {doc.path}. Rename one of them."
            )
        seen[doc.source_id] = doc.path
    if not documents:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped)
        raise SourcesError(f"No usable text in {root} ({reasons}).")
    documents.sort(key=lambda d: d.source_id)
    return Corpus(tuple(documents), tuple(sorted(skipped, key=lambda s: s.path)))
