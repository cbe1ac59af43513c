"""A clinic's own handouts as sources: PDF and Word files made here with real libraries, read by the build.

The files are generated in each test (fpdf2 writes PDFs the way an office program exports them: fonts,
a running head, page numbers in the footer; python-docx writes Word files with Word's own styles), so
what is tested is the text layer a real file carries, not a hand-made string.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import docx
import fpdf
import pytest

from index import load_corpus
from index.build import build_index
from tests.conftest import REPO, FakeEmbedder, write_corpus


VISIT_SECTIONS = {
    "Before you come": [
        "Eat a light meal about two hours before your appointment, so that you do not feel faint on the table.",
        "Bring a list of every medicine you take, including blood thinners such as warfarin, and any recent "
        "blood test results from your doctor.",
    ],
    "What to wear": [
        "Wear loose clothing that can be rolled up above the knee and the elbow, because many of the points we "
        "use for neuropathy are on the lower legs, the feet and the hands.",
        "Thin socks are fine; we will ask you to take them off for the treatment of your feet.",
    ],
    "After the session": [
        "Some people feel tired or light-headed for an hour after the first session; rest, drink water and do "
        "not drive if you feel dizzy.",
        "Small bruises where the needles went in fade within a few days and are nothing to worry about. "
        * 3,
    ],
}
HANDOUT_TITLE = "Your first acupuncture visit at Riverside Clinic"


class _Handout(fpdf.FPDF):
    running_head = "Riverside Clinic - patient handout"

    def header(self):
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, self.running_head, align="R")
        self.ln(12)

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 10, f"Page {self.page_no()} of {{nb}}", align="C")


def handout_pdf(title: str | None = HANDOUT_TITLE, sections: dict = VISIT_SECTIONS, filler: int = 6) -> bytes:
    """A two-page PDF: a large title, bold headings, wrapped paragraphs, a running head and page numbers."""
    pdf = _Handout()
    if title:
        pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.multi_cell(0, 10, HANDOUT_TITLE)
    pdf.ln(4)
    for heading, paragraphs in sections.items():
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, heading)
        pdf.ln(2)
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(4)
        for _ in range(filler):  # enough text that the handout runs over a page break
            pdf.multi_cell(0, 6, "Our team answers questions about this step by phone on weekdays, and we are "
                                 "glad to go through it again with you at the start of your visit.")
            pdf.ln(4)
    return bytes(pdf.output())


def scanned_pdf(tmp_path: Path) -> bytes:
    """A PDF holding only a picture of a page, as a scanner makes it: no text layer."""
    from PIL import Image, ImageDraw

    picture = tmp_path / "page.png"
    image = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(image).text((40, 40), "Acupuncture aftercare", fill="black")
    image.save(picture)
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.image(str(picture), x=10, y=10, w=180)
    return bytes(pdf.output())


def locked_pdf() -> bytes:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(handout_pdf())))
    writer.encrypt(user_password="clinic", owner_password="clinic")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def foot_care_docx(core_title: str = "") -> bytes:
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_heading("Caring for your feet between visits", level=0)
    document.add_paragraph("Check both feet every evening for cuts, blisters or redness, because numb feet do not "
                           "warn you of a small wound.")
    document.add_heading("Shoes and socks", level=1)
    document.add_paragraph("Wear soft seamless socks without tight elastic at the top.")
    document.add_paragraph("Choose shoes with room for your toes", style="List Bullet")
    document.add_paragraph("Never walk barefoot, even at home", style="List Bullet")
    bold = document.add_paragraph().add_run("When to call the clinic")
    bold.bold = True
    document.add_paragraph("Call us the same day if a wound on your foot is red, warm or leaking.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Do", "Avoid"
    table.cell(1, 0).text = "Moisturise the tops of your feet, not between the toes."
    table.cell(1, 1).text = "Hot water bottles on numb feet."
    document.sections[0].footer.paragraphs[0].text = "Page 1 - Riverside Clinic"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _sections(doc) -> dict[str, str]:
    return {s.heading: " ".join(doc.body[s.start : s.end].split()) for s in doc.sections}


def test_pdf_headings_become_sections_and_page_furniture_stays_out(tmp_path):
    (tmp_path / "first-visit.pdf").write_bytes(handout_pdf())
    corpus = load_corpus(tmp_path)
    assert corpus.skipped == ()
    doc = corpus.documents[0]
    assert doc.source_id == "first-visit" and doc.title == HANDOUT_TITLE
    sections = _sections(doc)
    assert list(sections) == list(VISIT_SECTIONS)
    for heading, paragraphs in VISIT_SECTIONS.items():
        for paragraph in paragraphs:  # every paragraph whole, in its own section, line breaks rejoined
            assert " ".join(paragraph.split()) in sections[heading]
    assert "Page " not in doc.body and " of 2" not in doc.body
    assert _Handout.running_head not in doc.body
    assert "light-headed" in sections["After the session"]  # hyphenated words keep their hyphen


def test_pdf_paragraph_carried_over_a_page_break_is_one_paragraph(tmp_path):
    (tmp_path / "first-visit.pdf").write_bytes(handout_pdf(filler=9))
    doc = load_corpus(tmp_path).documents[0]
    paragraphs = [" ".join(p.split()) for p in doc.body.split("\n\n") if p.strip()]
    assert all("Page" not in p for p in paragraphs)
    filler = [p for p in paragraphs if p.startswith("Our team answers")]
    assert filler and all(p.endswith("start of your visit.") for p in filler)  # none cut in two by the page break


def test_pdf_without_a_title_property_takes_its_first_heading(tmp_path):
    (tmp_path / "visit.pdf").write_bytes(handout_pdf(title=None))
    assert load_corpus(tmp_path).documents[0].title == HANDOUT_TITLE


def test_scanned_locked_and_damaged_pdfs_are_named_with_the_reason(tmp_path):
    write_corpus(tmp_path, {"notes.md": "# Notes\n\nNeedles are thin. They are sterile.\n"})
    (tmp_path / "aftercare-scan.pdf").write_bytes(scanned_pdf(tmp_path / ".."))
    (tmp_path / "locked.pdf").write_bytes(locked_pdf())
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n this is not really a PDF at all")
    corpus = load_corpus(tmp_path)
    assert [d.source_id for d in corpus.documents] == ["notes"]
    reasons = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert reasons["aftercare-scan.pdf"].startswith("no text: is it a scan?") and "OCR" in reasons["aftercare-scan.pdf"]
    assert "password-protected" in reasons["locked.pdf"]
    assert reasons["broken.pdf"].startswith("it cannot be read as a PDF") and "save or print it to PDF again" in reasons["broken.pdf"]


def test_word_headings_lists_and_tables_are_read_footer_left_out(tmp_path):
    (tmp_path / "foot-care.docx").write_bytes(foot_care_docx())
    doc = load_corpus(tmp_path).documents[0]
    assert doc.source_id == "foot-care" and doc.title == "Caring for your feet between visits"
    sections = _sections(doc)
    assert list(sections) == ["Caring for your feet between visits", "Shoes and socks", "When to call the clinic"]
    assert "numb feet do not warn you of a small wound." in sections["Caring for your feet between visits"]
    shoes = doc.body[doc.sections[1].start : doc.sections[1].end]
    assert "• Choose shoes with room for your toes\n• Never walk barefoot, even at home" in shoes
    call = sections["When to call the clinic"]
    assert "red, warm or leaking." in call and "Moisturise the tops of your feet, not between the toes." in call
    assert "Hot water bottles on numb feet." in call
    assert "Page 1" not in doc.body


def test_word_title_property_wins_over_the_first_heading(tmp_path):
    (tmp_path / "feet.docx").write_bytes(foot_care_docx(core_title="Foot care for people with neuropathy"))
    (tmp_path / "placeholder.docx").write_bytes(foot_care_docx(core_title="Document1"))
    titles = {d.source_id: d.title for d in load_corpus(tmp_path).documents}
    assert titles == {"feet": "Foot care for people with neuropathy", "placeholder": "Caring for your feet between visits"}


def test_every_file_not_read_is_named_with_what_to_do(tmp_path):
    write_corpus(tmp_path, {"notes.md": "# Notes\n\nNeedles are thin. They are sterile.\n",
                            "notes.questions.yaml": "[]\n", ".DS_Store": "x"})
    (tmp_path / "old-leaflet.doc").write_bytes(b"\xd0\xcf\x11\xe0 old Word")
    (tmp_path / "poster.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "prices.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "~$foot-care.docx").write_bytes(b"lock")
    (tmp_path / "empty.docx").write_bytes(b"PK\x03\x04 not a zip")
    reasons = {Path(s.path).name: s.reason for s in load_corpus(tmp_path).skipped}
    assert set(reasons) == {"old-leaflet.doc", "poster.jpg", "prices.xlsx", "~$foot-care.docx", "empty.docx"}
    assert "save it as .docx or PDF" in reasons["old-leaflet.doc"]
    assert "picture" in reasons["poster.jpg"]
    assert "not a kind of file the build reads (.md, .txt, .html, .pdf, .docx" in reasons["prices.xlsx"]
    assert "lock file" in reasons["~$foot-care.docx"]
    assert "cannot be read as a Word document" in reasons["empty.docx"]


def test_a_lone_pdf_is_a_corpus(tmp_path):
    (tmp_path / "first-visit.pdf").write_bytes(handout_pdf())
    assert [d.source_id for d in load_corpus(tmp_path).documents] == ["first-visit"]


def test_build_output_names_each_file_left_out_and_rebuilds_a_changed_pdf(tmp_path, logged):
    sources = tmp_path / "sources"
    write_corpus(sources, {"notes.md": "# Notes\n\nNeedles are thin. They are sterile.\n"})
    (sources / "first-visit.pdf").write_bytes(handout_pdf())
    (sources / "foot-care.docx").write_bytes(foot_care_docx())
    (sources / "scan.pdf").write_bytes(scanned_pdf(tmp_path))
    (sources / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    lines = logged("index")
    report = build_index(sources, tmp_path / "idx", embedder=FakeEmbedder(), progress=False)
    assert report.sources == 3
    assert any(line.startswith(f"Skipped {sources / 'scan.pdf'}: no text: is it a scan?") for line in lines)
    assert any(line.startswith(f"Skipped {sources / 'old.doc'}: it is an old Word 97-2003 file") for line in lines)

    (sources / "first-visit.pdf").write_bytes(handout_pdf(sections={**VISIT_SECTIONS, "Parking": ["Park in bay 4."]}))
    again = build_index(sources, tmp_path / "idx", embedder=FakeEmbedder(), progress=False)
    assert again.embedded_sources == ["first-visit"] and sorted(again.reused_sources) == ["foot-care", "notes"]


@pytest.mark.model
def test_a_question_about_a_handout_is_answered_from_it(tmp_path, real_embedder):
    """The real pipeline: the five articles plus a clinic's PDF and Word handouts; patients' questions on them."""
    from index import SearchIndex
    from qa import Answerer, load_settings
    from qa.answerer import packaged_collaborators

    sources = tmp_path / "sources"
    shutil.copytree(REPO / "sources", sources)
    (sources / "first-visit.pdf").write_bytes(handout_pdf())
    (sources / "foot-care.docx").write_bytes(foot_care_docx())
    build_index(sources, tmp_path / "idx", embedder=real_embedder, progress=False)
    settings = load_settings(REPO / "clinic.toml", environ={})
    bot = Answerer(SearchIndex.load(tmp_path / "idx", model=real_embedder.name), real_embedder, settings,
                   **packaged_collaborators())

    clothes = bot.ask("what clothes should i wear for my first appointment?")
    assert clothes["passages"], clothes
    first = clothes["passages"][0]
    assert first["title"] == HANDOUT_TITLE and first["section"] == "What to wear"
    assert "loose clothing" in first["text"]

    socks = bot.ask("what kind of socks should I wear with numb feet")
    assert socks["passages"] and socks["passages"][0]["title"] == "Caring for your feet between visits"
