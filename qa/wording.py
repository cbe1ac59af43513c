"""Every sentence a visitor reads that is not quoted from an article, in one place.

The safety messages, the reply to small talk, the abstention, what follows a safety message, the notes
shown first (a trimmed question, another language), the headings around the passages, and the chat page's
privacy note (what the insights store keeps: qa/insights/). A clinic-facing
phrase is changed here and nowhere else; clients render from the answer object's fields (`safety`,
`notes`, `message`, `passages`, `disclaimer`), not by searching answer_markdown for these words, so
rewording one breaks no client. What a clinic sets (its name, contact link, numbers, disclaimer, what the
articles cover, example questions) comes from clinic.toml through `Settings`, escaped here before it is
shown (qa/markup.py).

Returned strings are Markdown, except the notes (plain text; qa/compose.py escapes them).
"""

from __future__ import annotations

from .config import KEPT_TEXT_LIMIT, Settings
from .coverage import Coverage, quoted_titles
from .markup import escape, safe_url
from .smalltalk import MessageKind

PASSAGES_INTRO = "Here is what the articles say:"
SOURCES_HEADING = "Sources"
ALSO_IN = "Also in"


def examples(settings: Settings, count: int = 3) -> str:
    """The first `count` example questions, quoted: “a”, “b” or “c”."""
    picked = [f"“{escape(e)}”" for e in settings.examples[:count]]
    return ", ".join(picked[:-1]) + (f" or {picked[-1]}" if len(picked) > 1 else "".join(picked))


def contact(settings: Settings) -> str:
    """" You can also [Book a visit](https://...)." when the clinic set an http(s) contact link, else ""."""
    url = safe_url(settings.contact_url)
    return f" You can also [{escape(settings.contact_label)}]({url})." if url else ""


def small_talk(kind: MessageKind, settings: Settings) -> str:
    """The reply to an empty message, thanks, goodbye or a greeting (qa/smalltalk.py's kinds)."""
    if kind == "empty":
        return f"Please type a question about acupuncture for neuropathy, for example {examples(settings, 1)}."
    if kind == "thanks":
        return "You're welcome! Ask another question any time."
    if kind == "goodbye":
        return "Take care! Come back any time you have a question."
    return (
        f"Hello! I answer questions about acupuncture for peripheral neuropathy by quoting a small library of "
        f"articles. You could ask, for example, {examples(settings)}."
    )


def abstention(settings: Settings, coverage: Coverage | None = None) -> str:
    """The "not covered" reply: what the articles cover ([answer] coverage, and the titles of articles it was not
    written for: qa/coverage.py), examples, and the clinic's contact link."""
    covered = f"They cover {escape(settings.coverage)}."
    if coverage is not None and coverage.other_titles:
        titles = escape(quoted_titles(coverage.other_titles))
        covered = f"{covered} The library also has {titles}." if coverage.written_for else f"The articles I have are {titles}."
    return (
        "I'm sorry, the articles I have don't answer that, and I won't guess. "
        f"{covered} You could ask, for example, {examples(settings, 2)}. "
        f"For questions about your own care, please ask a licensed clinician.{contact(settings)}"
    )


# What each kind of request (qa/requests.yaml) is, in a visitor's words.
REQUEST_NAMES = {
    "pricing": "prices", "insurance": "insurance", "dosing": "medicine doses",
    "booking and logistics": "appointments and visits", "clinic, staff and liability": "the clinic and its staff",
    "writing and other tasks": "tasks other than answering",
}


def part_not_covered(kinds: list[str]) -> str:
    """The note (plain text, like every note) before an answer to a message that also asks for `kinds` of request
    the articles are not meant for.

    >>> part_not_covered(["pricing", "insurance"])
    'Your message also asks about prices and insurance, which these articles do not cover: please ask the clinic. Here is what they say about the rest.'
    """
    names = list(dict.fromkeys(REQUEST_NAMES.get(kind, kind) for kind in kinds))
    about = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    return (f"Your message also asks about {about}, which these articles do not cover: please ask the clinic. "
            "Here is what they say about the rest.")


def after_safety(settings: Settings) -> str:
    """What follows a safety message: nothing is retrieved; the clinic's contact link, once."""
    return f"Please get help first: the articles here cannot help with this.{contact(settings)}"


# Leads the answer to a question about stopping, changing or combining a prescribed medicine (qa/medicines.py).
MEDICINE_CAUTION = ("Never start, stop or change a prescribed medicine or treatment on your own: talk to the doctor who "
                    "prescribed it first. Here is what the articles say about acupuncture alongside medical treatment.")


def truncated_note(max_chars: int) -> str:
    return f"Your message was long, so only its first {max_chars:,} characters were used."


def other_language_note(language_name: str | None, *, answered: bool = True) -> str:
    """The note on a question in another language: with the closest English answer, or, when the articles
    answer nothing, that only English is understood (so the refusal is not taken as the articles' last word)."""
    wrote = f"It looks like you wrote in {language_name or 'another language'}."
    if answered:
        return f"{wrote} The articles are in English, so here is the closest English answer I could find."
    return (f"{wrote} I can only answer in English, and I could not match your question to the articles: "
            "please try asking in English.")


def privacy_note(settings: Settings) -> str:
    """The chat page's privacy note (plain text): what is kept (qa/insights/events.py), which `[privacy]`
    decides. It names what is derived from a question too (its kind, a safety message), not only the words."""
    counts = ("each answer (the date and hour; whether the articles covered the question and, if not, what kind of "
              "question it was, such as prices; whether it got a safety message or was small talk; its language; "
              "how closely the articles matched it; the sources cited) and each thumbs up/down (the rating and the "
              "sources cited)")
    if settings.store_question_text:
        return (f"To help the clinic add articles, questions the articles could not answer and questions you rate "
                f"thumbs-down are stored as you typed them (up to {KEPT_TEXT_LIMIT:,} characters), but never a message "
                f"that got a safety message or small talk. Beyond that the clinic counts {counts}. Nothing else "
                f"about you is kept, and all of it is deleted after {settings.keep_days} days.")
    return (f"Nothing you type is stored. To improve this service the clinic counts {counts}, nothing about you, "
            f"and deletes the counts after {settings.keep_days} days.")


# Why a red flag needs help now, per category of qa/red_flags.py: the sentence after the level's first line.
# {emergency} and {poison} are filled in from the clinic's settings.
SAFETY_REASONS = {
    "chest_pain": "Chest pain, pressure or tightness, above all with pain in the arm or jaw, sweating or breathlessness, "
                  "can be a heart attack.",
    "stroke": "Face drooping, arm or leg weakness, slurred speech or sudden loss of vision can be a stroke: every minute counts.",
    "weakness_breathing": "Trouble breathing or swallowing, or weakness that came on suddenly or is spreading, needs care "
                          "right away.",
    "blood_sugar": "Very low or very high blood sugar with symptoms needs help now. If it is low and the person can swallow "
                   "safely, give juice, regular soda or glucose tablets while you wait.",
    "head_injury": "A blow to the head on a blood thinner, or with vomiting, a worsening headache, confusion or drowsiness, "
                   "can mean bleeding inside the head, even if it seemed minor.",
    "allergic_reaction": "Swelling of the lips, tongue or throat, or a tight throat, can be a severe allergic reaction "
                         "(anaphylaxis). Use an adrenaline auto-injector (EpiPen) if there is one.",
    "fainting": "Fainting, collapsing, not waking properly or a seizure needs to be checked right away.",
    "poisoning": "Swallowed medicine or an overdose needs help now; {poison} can advise, but call {emergency} first if the "
                 "person is very sleepy, hard to wake or breathing slowly.",
    "bleeding": "Black, tarry stools, vomiting or coughing blood, or bleeding that will not stop can mean serious bleeding, "
                "above all on a blood thinner.",
    "sepsis": "A fever with confusion, drowsiness, a stiff neck or a rash that does not fade can be sepsis or meningitis.",
    "spinal_cord": "Back pain with new numbness between the legs, or trouble passing urine or controlling the bowels, can mean "
                   "pressure on the nerves at the base of the spine (cauda equina): go to an emergency department now.",
    "foot_infection": "A foot wound that is red, hot, swollen, smelly or not healing, or a toe turning dark, needs prompt care, "
                      "especially with diabetes or numb feet, when you may not feel it getting worse. Call your doctor, "
                      "podiatrist or foot clinic today.",
    "cold_limb": "A foot or leg that turns cold and pale, blue or white can mean its blood supply is blocked. If it happened "
                 "suddenly, call {emergency} now.",
    "blood_clot": "A swollen, warm, painful calf or leg can be a blood clot (DVT). If you are also short of breath or have "
                  "chest pain, call {emergency} now.",
    "chemo_fever": "A fever or chills during chemotherapy can be a serious infection: call your cancer team's 24-hour line "
                   "now, as they have asked you to.",
}
# The first line of each level, in Spanish too: shown first when the message was written in Spanish.
_SPANISH_FIRST_LINE = {
    "emergency": "**Esto puede ser una emergencia médica. Llame al {emergency} ahora.** No espere ni maneje usted mismo.",
    "urgent": "**Por favor, consulte hoy mismo a un médico o vaya a urgencias.** Si empeora rápido, llame al {emergency}.",
    "crisis": "**Llame o envíe un mensaje de texto al {crisis} ahora** para hablar con alguien hoy (también en español).",
}


def safety_message(level: str, settings: Settings, *, category: str | None = None, language: str = "en") -> str:
    """The message shown first for a red flag (qa/safety.py finds it): the level's first line, then why, for its
    category when known, with the clinic's numbers; in Spanish first for a message written in Spanish. The
    clinic's contact link is not part of it: `after_safety` adds it, escaped, once."""
    numbers = {"emergency": settings.emergency_number, "poison": settings.poison_line, "crisis": settings.crisis_line}
    reason = SAFETY_REASONS[category].format(**numbers) if category in SAFETY_REASONS else None
    if level == "emergency":
        text = (f"**This may be a medical emergency. Call {settings.emergency_number} (or your local emergency "
                "number) now.** Do not wait and do not drive yourself. " + (reason or
                "Chest pain, stroke signs (face drooping, arm weakness, slurred speech), sudden weakness or trouble "
                "breathing need care right away."))
    elif level == "crisis":
        text = (f"**You deserve support right now. Please call or text {settings.crisis_line}** "
                f"({settings.crisis_line_name}) to talk with someone today. If you might act on these thoughts or "
                f"are in danger, call {settings.emergency_number} now. Living with constant pain is hard, and "
                "help is available.")
    elif level == "urgent":
        text = ("**Please get this checked today by a doctor, urgent care or podiatrist.** " + (reason or
                "A foot wound that is infected or not healing, or a foot or toe that turns cold, pale, blue or black, "
                "needs prompt medical care, especially with neuropathy or diabetes, when you may not feel it getting "
                "worse."))
        if settings.emergency_number not in text:
            text += f" If it is severe or spreading fast, call {settings.emergency_number}."
    else:
        raise ValueError(f"Invalid safety level: {level}. Choose from 'emergency', 'urgent', 'crisis'.")
    if language == "es":
        text = _SPANISH_FIRST_LINE[level].format(**numbers) + "\n\n" + text
    return text
