"""Questions about changing or combining prescribed medicines: answered, never refused, and led by a caution.

"If acupuncture works can I stop my gabapentin?", "acupuncture and Lyrica together ok?", "can I skip my Eliquis
the morning of?": the articles answer them (acupuncture is complementary to conventional treatment, not a
replacement; tell your doctor; blood thinners need a word with the doctor first), but the topic lists would make
them look out of scope (neuropathy medicines are a kind of topic the articles do not cover: qa/topics.yaml).
So such a question is answered, never abstained on, and the answer opens with a fixed caution
(qa/wording.py, `MEDICINE_CAUTION`): never start, stop or change a prescribed medicine without the prescriber.

A question is one when a sentence names a prescribed medicine (or medicines in general, or a treatment such as
chemotherapy or dialysis) together with stopping, reducing, replacing, skipping, keeping on or combining.
Supplements and herbs are not prescribed medicines, and what a medicine does by itself (its side effects, its
dose) is not asked here.

>>> is_medicine_change("if acupuncture works can i stop my gabapentin?"), is_medicine_change("acupuncture and lyrica together ok?")
(True, True)
>>> is_medicine_change("what does gabapentin do?"), is_medicine_change("will the needles hurt")
(False, False)
"""

from __future__ import annotations

import re

# Names as patients type them: a drug's first letters catch the usual misspellings ("gabapenten", "symbalta").
MEDICINES = (
    r"medicines?|medications?|meds|pills|prescriptions?|prescribed|drugs|tablets|painkillers|pain killers|insul\w*|metfor\w*|"
    r"gabap\w*|neuront\w*|gralise|pregab\w*|lyric\w*|dulox\w*|cymbal\w*|symbal\w*|venlafax\w*|effexor|amitr\w*|amytr\w*|"
    r"elavil|nortrip\w*|pamelor|carbamaz\w*|tegretol|tramad\w*|oxycod\w*|oxycontin|percocet|hydrocod\w*|vicodin|norco|"
    r"morphine|opioids?|warf\w*|coumadin|jantoven|eliqu\w*|apixaban|xarel\w*|rivaroxaban|pradaxa|plavix|clopidogrel|"
    r"brilinta|aspirin|blood ?thinners?|anticoagulants?|statins?|antidepressants?|sertraline|zoloft|lisinopril|"
    r"chemo|chemotherapy|quimio|quimioterapia|dialysis|treatment|tratamiento|medicina|medicinas|medicamentos?|pastillas"
)
_MEDICINE = re.compile(rf"\b({MEDICINES})\b", re.IGNORECASE)
_CHANGE = re.compile(
    r"\b(stop|stopping|stopped|quit|quitting|come off|coming off|get off|getting off|wean|weaning|taper|tapering|"
    r"cut (back|down)|cutting (back|down)|reduce|reducing|lower|lowering|drop|dropping|skip|skipping|miss|replace|"
    r"replacing|replacement|instead of|rather than|substitute|switch|give up|ditch|not need|no longer need|without my|"
    r"keep taking|keep takeing|keep on|continue|continuing|still take|stay on|together|at the same time|alongside|along with|"
    r"interact|interaction|combine|combined|mix|on top of|while (on|taking|i am on|i'm on|im on)|with my|"
    r"dejar|dejo|deja|suspender|seguir tomando|sigo tomando|junto con|en vez de|al mismo tiempo)\b",
    re.IGNORECASE,
)
# What such a question is searched with besides its own words, in the articles' words ("a complement to conventional
# treatments", "a beneficial addition to conventional care"): the passages that answer it are the ones saying
# acupuncture goes alongside medical treatment, not instead of it.
ALONGSIDE = "acupuncture as a complement and addition to conventional medical treatment and care, not a replacement"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def is_medicine_change(text: str) -> bool:
    """Does a sentence of `text` ask about changing or combining a prescribed medicine or treatment (named in it or
    in the sentence before: "I'm on Lyrica. Do I keep taking it?")?

    >>> is_medicine_change("amitriptyline makes me a zombie. can acupuncture replace it")
    True
    """
    parts = _SENTENCE.split(text or "")
    return any(_CHANGE.search(s) and (_MEDICINE.search(s) or (i and _MEDICINE.search(parts[i - 1])))
               for i, s in enumerate(parts))
