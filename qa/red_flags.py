"""The red-flag categories safety triage looks for (qa/safety.py applies them), with the guidance each follows.

Each category is a named clinical situation that needs care now, the level of help it needs (the contract's
`safety.level`: "emergency", "urgent" or "crisis"), the published red-flag lists it was written from, and its
signs: regular expressions over the folded text (lower case, accents removed, "can't" read as "cannot", see
`safety.fold`). A sign is one pattern, or a tuple of patterns that must all occur in the same sentence (or in
two neighbouring ones), so that "numb toes" (neuropathy, asked about every day) does not trip while "toes
turning black" does. `requires`, when given, must also occur somewhere in the message ("on a blood thinner"
for a head injury). English and Spanish signs sit side by side (a Spanglish message works too); the top
categories also know French, Portuguese, German, Italian, Chinese, Vietnamese, Russian and Tagalog words.

Whether a sign describes something happening now (rather than last year, or "what if") is not decided here:
qa/safety.py reads the tense and certainty of the sentence a sign was found in.

Written from the categories and the guidance, not from any question set. What is left out on purpose: the
everyday, chronic symptoms of neuropathy (numbness, burning, tingling, cold feet, poor balance), which the
articles answer.
"""

from __future__ import annotations

from dataclasses import dataclass

Sign = str | tuple[str, ...]

LEVELS = ("crisis", "emergency", "urgent")  # precedence: the most severe level found wins


@dataclass(frozen=True)
class Category:
    name: str
    level: str
    covers: str                 # one line, for the README and the evaluation's confusion table
    sources: tuple[str, ...]    # the published guidance it follows
    signs: tuple[Sign, ...]
    requires: tuple[str, ...] = ()
    # A worry, a plan or "just in case" is itself the warning sign for a crisis; for the others, "what if" is a question.
    hypothetical_counts: bool = False


# Words shared by several categories.
_BLOOD_THINNERS = (r"\b(blood ?thinners?|anticoagula\w*|antiplatelet|warfarin\w*|coumadin|jantoven|eliquis|apixaban|xarelto|"
                   r"rivaroxaban|pradaxa|dabigatran|savaysa|edoxaban|heparin|lovenox|enoxaparin|plavix|clopidogrel|brilinta|"
                   r"ticagrelor|aspirin\w*|aspirina|low platelets|platelets (are|were|is) low|plaquetas bajas|adelgazante de la sangre)\b")
_CHILD = (r"\b(son|daughter|kid|kids|child|toddler|baby|grandson|granddaughter|grandkid|grandchild|little one|\d{1,2} ?(year|yr)s? old|"
          r"\d{1,2} ?yo|nino|nina|ninos|hijo|hija|bebe|nieto|nieta|chiquito|chiquita)\b")
_PILLS = (r"\b(pills?|tablets?|meds|medicines?|medications?|capsules?|bottle|gabapentin\w*|neurontin|lyricas?|pregabalin\w*|"
          r"cymbalta|duloxetine|amitriptylin\w*|amitriptilin\w*|oxycodone|hydrocodone|tramadol|opioids?|insulin|metformin|"
          r"tylenol|acetaminophen|ibuprofen|advil|aspirin|sleeping pills|pastillas?|pildoras?|tabletas?|medicinas?|"
          r"medicamentos?|chemicals?|bleach|cleaner|detergent|pods?|cloro|veneno)\b")
_CHEMO = (r"\b(chemo\w*|quimio\w*|folfox|folfiri|taxol|paclitaxel|docetaxel|carboplatin|cisplatin|oxaliplatin\w*|vincristine|"
          r"velcade|bortezomib|infusion|cancer treatment|on treatment for)\b")
_FEVER = (r"\b(fever\w*|feverish|febrile|temp(erature)? (of|is|was|at)? ?(3[89]|10[0-5])|high temp\w*|1(0[0-5])(\.\d)? ?(f|degrees)?|"
          r"3[89](\.\d)? ?(c|degrees)|chills|shivering|rigors|calentura|fiebre|escalofrios|sot( cao)?|fievre|febbre|fieber|"
          r"发烧|发热|高烧)\b")
_CONFUSED = (r"\b(confus\w*|disoriented|not making sense|making no sense|talking nonsense|delirious|drowsy|very sleepy|"
             r"really sleepy|so sleepy|hard to wake|will not wake|cannot wake|not waking|lethargic|out of it|dazed|"
             r"stiff neck|neck is stiff|mottled|rash that (does not|will not) fade|(spots|rash) that (do not|does not|will not) (go away|fade)|purple spots|manchas moradas|"
             r"no se quitan al apretar|confundid\w*|desorientad\w*|somnolient\w*|"
             r"no despierta|cuello (rigido|tieso)|lo mo|me man|lu lan|co cung|神志不清|意识模糊|昏睡)\b")
_NOW_WORSE = r"\b(getting worse|worse and worse|worsening|spreading|moving up|climbing|creeping up|cada vez peor|empeorando)\b"

CATEGORIES: tuple[Category, ...] = (
    Category(
        "crisis", "crisis",
        "suicidal thoughts, plans or preparations, self-harm, including indirect phrasings",
        ("988 Suicide & Crisis Lifeline: warning signs", "NHS: help for suicidal thoughts",
         "NICE NG225: self-harm"),
        hypothetical_counts=True,
        signs=(
            r"\bsuicid", r"\bkill(ing)? (my ?self|him ?self|her ?self)\b", r"\b(want|wants|going|gonna) to kill me\b",
            r"\bend(ing)? (my|his|her) (own )?life\b", r"\b(end|ending) it( all)?\b", r"\bend my suffering\b",
            r"\btak(e|ing) (my|his|her) (own )?life\b",
            r"\b(do not|no longer|never|not) (want|wish) to (live|be alive|be here|wake up|go on|exist|be around)\b",
            r"\bwant(s|ed)? to (die|disappear|not exist)\b", r"\bwish (i|he|she) (was|were) (dead|never born|gone)\b",
            r"\bbetter off (dead|without me|if i (was|were) gone)\b",
            r"\b(no|not any|do not see the|do not see any|cannot see the|what is the|whats the) (reason|point)\b"
            r".{0,30}\b(live|living|go on|going on|being here|anymore|any more|of it all|trying)\b",
            r"\b(so )?what(s| is) the point\b(?! of (acupuncture|it|the needles|trying acupuncture|going))",
            r"\blife (is not|isnt) worth living\b", r"\bcannot (go on|do this|take (it|this)) (anymore|any more|much longer)\b",
            r"\bno way out\b", r"\bself[- ]?harm", r"\b(hurt|hurting|harm|harming|burn|burning|cut|cutting|punish\w*) (my|him|her) ?self\b",
            r"\b(keep|been|started) cutting\b", r"\bcut(ting)? (my|his|her) (wrists?|arms?|legs?|skin|thighs?)\b",
            (r"\b(hold|holding|held|put|putting|press|pressing)\b.{0,30}\b(lighter|flame|match|cigarette|hot iron|candle)\b", r"\b(burn|burns|burned|burnt)\b"),
            r"\b(cannot|kind of cannot|kinda cannot) stop (doing it|hurting|cutting|burning)\b",
            r"\b(overdose|od) on purpose\b", r"\b(plan|planning|going|want|thinking about) to (overdose|od|jump|hang)\b",
            r"\b(saving|stockpiling|hoarding|collecting|storing|stashing) (up )?(all )?(my |his |her |some )?(pain |sleeping )?(pills|meds|medications?|tablets|painkillers)",
            r"\b(wrote|written|writing|left) (goodbye |farewell )?(letters?|notes?) (to|for) (my|the|his|her) (kids|children|family|wife|husband|son|daughter)",
            r"\b(will not|wont|am not going to|not gonna) be (around|here) (much )?(longer|anymore|for long)\b",
            r"\b(giving|gave|give) away (my|all my) (things|stuff|belongings)\b",
            r"\b(everyone|everybody|my family|they|my kids) (would be|is|are|will be) better off\b", r"\bkms\b",
            # Spanish
            r"\b(quitarme|quitarse|quitar) la vida\b", r"\bmatarme\b|\bmatarse\b", r"\bno quiero (vivir|seguir viviendo|seguir aqui|despertar)\b",
            r"\b(quiero|quisiera|queria) (morir|morirme|desaparecer)\b", r"\b(hacerme|hacerse) dano\b", r"\b(cortarme|me corto)\b",
            r"\bestarian mejor sin mi\b", r"\bno (tiene|le veo) sentido (vivir|seguir)\b", r"\bacabar con (todo|mi vida)\b",
            r"\bya no (aguanto|puedo) mas\b.{0,40}\b(vivir|morir|vida)\b",
            r"\b(juntando|guardando|ahorrando|acumulando) (mis |sus |las )?(pastillas|medicinas|pildoras)\b",
            # French, Portuguese, German, Italian
            r"\b(me tuer|en finir|ne veux plus vivre|envie de mourir|serait mieux sans moi|seraient mieux sans moi)\b", r"\b(me matar|nao quero mais viver|acabar com (tudo|a minha vida)|quero morrer)\b",
            r"\b(selbstmord|umbringen|nicht mehr leben|sterben will)\b", r"\b(uccidermi|farla finita|non voglio piu vivere|voglio morire)\b",
            # Chinese, Vietnamese (folded), Russian, Tagalog
            r"自杀|自殺|不想活|想死|结束生命|结束自己|轻生|活着没意思|没有我会更好|没有我更好",
            r"\b(tu tu|muon chet|khong muon song|tot hon neu khong co toi)\b",
            r"суицид|покончить с собой|не хочу жить|убить себя", r"\b(magpakamatay|ayoko nang mabuhay)\b",
        ),
    ),
    Category(
        "chest_pain", "emergency",
        "chest pain, pressure or tightness now, especially with arm or jaw pain, sweating or breathlessness",
        ("NHS: heart attack symptoms (call 999)", "American Heart Association: warning signs of a heart attack"),
        signs=(
            (r"\b(chest|chset|chets|cheast|chestt|chst)\b", r"\b(pain\w*|pressure|tight\w*|crush\w*|squeez\w*|heav\w*|hurts?|hurting|ache|aching|elephant|burning|"
                           r"sitting on|weight on|discomfort|stabbing|sharp)"),
            r"\b(having|is having|think .{0,15}(having|had)) a heart attack\b", r"\bcardiac arrest\b",
            (r"\b(jaw|left arm|arm|shoulder|back)\b.{0,20}\b(pain|hurts|aches?|heavy|numb|weird|tingl\w*)", r"\b(sweat\w*|short of breath|shortness of breath|breathless|nause\w*|clammy)\b"),
            r"\b(dolor|presion|opresion|apreton|peso)\b.{0,30}\bpecho\b", r"\bpecho\b.{0,20}\b(dolor|duele|apretado|presion|opresion)",
            r"\bme duele (mucho )?el pecho\b", r"\bataque (al corazon|cardiaco)\b",
            r"\b(douleur|mal|serrement|oppression)\b.{0,15}\b(poitrine|thorax)\b", r"\b(dor|aperto|pressao)\b.{0,10}\bno peito\b",
            r"\b(brustschmerz\w*|schmerz\w* in der brust|druck auf der brust|engegefuhl)\b", r"\b(dolore|peso|oppressione) al petto\b",
            r"胸痛|胸口.{0,2}(痛|疼|闷)|胸闷|心脏病发作|心口.{0,2}痛", r"\b(dau nguc|tuc nguc|nguc dau|dau that nguc)\b",
            r"боль в груди|болит (в )?груд|давит (в )?груд", r"\b(masakit ang dibdib|sakit sa dibdib)\b",
        ),
    ),
    Category(
        "stroke", "emergency",
        "stroke signs (FAST): face drooping, one arm or leg suddenly weak, slurred speech, sudden vision loss or worst headache",
        ("NHS: stroke symptoms, Act FAST", "American Stroke Association: BE FAST"),
        signs=(
            r"\b(face|mouth|smile|eyelid|lip)\b.{0,30}\b(droop\w*|crooked|lopsided|sagging|uneven|twisted|drooping)",
            r"\bdroop(ing|y|s|ed)?\b.{0,30}\b(face|mouth|side|eye|smile)",
            r"\bslurr(ed|ing)\b", r"\b(words|speech|talking|speaking)\b.{0,30}\b(jumbled|garbled|slurr\w*|mixed up|nonsense|wrong|funny|weird|strange|drunk)",
            r"\btalking (funny|weird|strange|drunk|gibberish)\b",
            r"\bcannot (speak|talk|get (the |my |his |her )?words out|find (the |my |his |her )?words|understand what (he|she) is saying)\b",
            (r"\b(sudden(ly)?|all of a sudden|out of (nowhere|the blue)|just now)\b",
             r"\b(weak|weakness|paraly\w*|cannot (move|walk|stand|speak|talk|see|lift|raise|grip|hold|use)|confus\w*|blind|vision|"
             r"worst headache|severe headache|collapse\w*|went weak|went numb|barely hold)"),
            (r"\b(one side|left side|right side|half (of )?(my|his|her) (face|body)|(right|left) (arm|leg) and (arm|leg))\b",
             r"\b(numb|weak|droop|paraly|tingl|heavy|dead|cannot move)"),
            r"\bcannot (move|lift|raise|feel) (my|his|her) (right|left) (arm|hand|side)\b",
            r"\b(worst headache (of|in) (my|his|her) life|thunderclap)\b",
            r"\b(having|is having|think .{0,15}(having|had) a|might be having a|signs of a) stroke\b",
            r"\bboca (chueca|torcida|caida|de lado)\b", r"\bcara (caida|torcida|chueca|de lado)\b",
            r"\b(se le cayo|caido|caida) (un lado de )?la cara\b|\bun lado de la cara\b", r"\bno (puede|puedo) hablar( bien)?\b",
            r"\bel peor dolor de cabeza de (mi|su) vida\b",
            r"\bno (puede|puedo) (mover|levantar|sentir) (el|su|mi) (brazo|pierna|lado)\b",
            r"\b(habla|hablando|hablar)\b.{0,20}\b(raro|arrastrad\w*|enredad\w*|trabad\w*|no se le entiende|chistoso)",
            (r"\bde (repente|pronto)\b", r"\b(debil\w*|no (puede|puedo) (mover|hablar|ver|caminar)|se le durmio|entumi\w*|confundid\w*)"),
            r"\b(le (esta )?dando|tiene|creo que es) un (derrame|embolia|ataque cerebral)\b",
            r"\b(avc|visage (tombe|paralyse|de travers)|bouche de travers|du mal a parler|ne repond plus)\b",
            (r"\b(d'un coup|soudain\w*|tout a coup)\b", r"\b(bras|jambe|parler|faible\w*|paralys\w*)\b"),
            r"\b(boca torta|rosto caido|derrame cerebral agora)\b",
            (r"\bde repente\b", r"\b(fracos?|fracas?|nao consegue|dormente)\b"),
            r"\b(schlaganfall|gesicht hangt)\b", r"\b(ictus|bocca storta|viso cadente)\b",
            r"中风|中風|脑卒中|嘴歪|脸歪|口眼歪斜|说话不清|半身不遂", (r"突然", r"没力气|无力|麻|说不出话|看不见"),
            r"\b(dot quy|tai bien|meo mieng|liet nua nguoi|noi ngong)\b", (r"\b(tu nhien|dot nhien)\b", r"\b(yeu|te|liet|meo|khong noi duoc)\b"),
            r"инсульт|перекосило", r"\b(na-stroke|nastroke|stroke ngayon)\b",
        ),
    ),
    Category(
        "weakness_breathing", "emergency",
        "trouble breathing or swallowing, or weakness that came on suddenly or is spreading fast",
        ("NHS: when to call 999 (breathing difficulty)", "NHS: Guillain-Barre syndrome, get help now",
         "NINDS: Guillain-Barre syndrome warning signs"),
        signs=(
            r"\bcannot (breathe|catch (my|his|her) breath|get (enough )?air|swallow)\b",
            r"\b(short(ness)? of breath|trouble breathing|difficulty breathing|struggling to breathe|hard to breathe|hurts to breathe|"
            r"gasping|choking|breathless|not breathing|breathing (is |feels )?(slow|very slow|shallow|fast|really fast|weird|labou?red))\b",
            r"\b(hard|difficult|trouble|struggl\w*|difficulty) (to |with )?(swallow\w*|take a (deep )?breath|breath\w*)\b",
            r"\blips?\b.{0,25}\b(blue|grey|gray)",
            (r"\b(weak|weakness|weaker)\b", r"\b(spreading|moving up|now (my|his|her) (arms|hands|legs)|arms (are )?weak|getting weaker|"
                                            r"cannot (walk|stand|get up|climb)|legs (gave|give) out|within (hours|days)|fast|quickly|rapid\w*)\b"),
            (r"\b(tingl\w*|numb\w*|weak\w*)\b", r"\b(now (it is |its )?(up to|in|at|into) (my|his|her) (hips|knees|thighs|waist|arms|hands|chest)|spread\w* (up|to)|moving up|going up (my|his|her))\b",
             r"\b((barely|cannot|hard to) (walk|climb|stand|get up|lift|hold)|weak\w*)\b"),
            r"\bno (puede|puedo) (respirar|tragar)\b", r"\b(le|me) cuesta (respirar|tragar)\b", r"\bfalta de aire\b",
            r"\b(dificultad|problemas) (para|al) (respirar|tragar)\b", r"\b(se (esta )?ahoga\w*|ahogando)\b",
            (r"\bdebil\w*\b", r"\b(cada vez peor|subiendo|avanza\w*|ya no (puede|puedo) (caminar|pararse)|rapido|ahora tambien|desde ayer)\b"),
            r"\b(essoufle|ne peut pas respirer|falta de ar|nao consegue respirar|atemnot|keine luft|non riesce a respirare)\b",
            r"呼吸困难|喘不过气|吞咽困难", r"\b(kho tho|khong tho duoc)\b", r"не может дышать|задыха",
        ),
    ),
    Category(
        "blood_clot", "urgent",
        "signs of a blood clot in the leg: one calf or leg swollen, hot, red or painful",
        ("NHS: DVT (deep vein thrombosis) symptoms", "NICE NG158: venous thromboembolic diseases"),
        signs=(
            (r"\b(calf|calves|leg|thigh|pantorrilla|pierna|chamorro)\b",
             r"\b(swol\w*|swell\w*|puffy|bigger than the other|larger than the other|hinch\w*|inflamad\w*)\b",
             r"\b(hot|warm|red|redness|painful|tender|hurts?|sore|hard|caliente|roja|rojo|duele|dolor)\b"),
            r"\b(i|he|she|my \w+) (think|thinks|might|may|could) (have|has|be having|be) a (blood )?clot\b",
            r"\b(could|might) (this|it) be a (blood )?clot\b", r"\b(creo que|puede ser) (es )?un coagulo\b",
        ),
    ),
    Category(
        "blood_sugar", "emergency",
        "very low blood sugar with symptoms now, or very high with vomiting, fast breathing or drowsiness",
        ("NHS: low blood sugar (hypoglycaemia)", "NHS: diabetic ketoacidosis", "ADA: hypoglycemia (below 54 mg/dL is serious)"),
        signs=(
            (r"\b(blood sugar|sugars?|glucose|bg|bs|meter|reading|cgm|dexcom|libre|azucar|glucosa|glucometro)\b", r"\b(low|dropping|crash\w*|baja|bajo|bajita)\b",
             r"\b(shak\w*|sweat\w*|confus\w*|dizzy|trembl\w*|cannot think|pass(ing)? out|faint\w*|tembl\w*|sud\w*|mare\w*|confund\w*)\b"),
            r"\b(blood sugar|sugars?|glucose|bg|bs|meter|reading|numbers?|azucar|glucosa|glucometro)\b.{0,25}?\b([1-4]\d|5[0-4]|[123](\.\d)? ?mmol)\b(?! ?(years?|yrs?|units?|mg(?!/dl)|minutes?|mins?|%))",
            r"\b([1-4]\d|5[0-4]) on (my|the|his|her) (meter|monitor|cgm)\b",
            r"\b(blood sugar|sugars?|glucose|bg|bs|meter|reading|numbers?|azucar|glucosa|glucometro)\b.{0,25}\b([4-9]\d\d|hi|high)\b.{0,60}\b(vomit\w*|throwing up|threw up|breathing (really |very )?(fast|hard|deep)|fruity|cannot keep|drowsy|confus\w*|vomit\w*|respira\w* (muy )?rapido|mucha sed)",
            r"\b(vomit\w*|throwing up|threw up)\b.{0,80}\b(blood sugar|sugars?|glucose|reading)\b.{0,25}\b[4-9]\d\d\b",
            r"\b(dka|ketoacidosis|ketones (are )?(high|large))\b",
            r"\b(having|in) a (bad |severe )?hypo\b",
        ),
    ),
    Category(
        "head_injury", "emergency",
        "a blow to the head on a blood thinner, or with vomiting, a worsening headache, confusion or drowsiness",
        ("NICE NG232: head injury (anticoagulants are a reason for a CT scan)", "NHS: head injury and concussion, go to A&E"),
        signs=(
            r"\b(hit|hits|bumped|banged|smacked|struck|knocked|whacked|cracked) (the (back|side|front|top) of )?(my|his|her|their) head\b",
            r"\bhead (injury|trauma|wound)\b", r"\bblow to the head\b", r"\bconcussion\b",
            r"\b(fell|fall|tripped|slipped) .{0,40}\b(head|cabeza)\b",
            r"\b(se )?(golpe[oe]|pego|pegue|dio un golpe|se dio)\b.{0,20}\b(en )?la cabeza\b", r"\bgolpe en la cabeza\b",
        ),
        requires=(_BLOOD_THINNERS, r"\b(vomit\w*|threw up|throwing up|headache .{0,20}(worse|bad)|(worse|bad|severe) headache|confus\w*|drowsy|sleepy|"
                                   r"will not wake|passed out|knocked out|blacked out|vomit\w*|dolor de cabeza|confundid\w*|somnolient\w*)\b"),
    ),
    Category(
        "allergic_reaction", "emergency",
        "a severe allergic reaction: lips, tongue, face or throat swelling, throat tight, hives with trouble breathing",
        ("NHS: anaphylaxis (call 999)", "World Allergy Organization: anaphylaxis guidance"),
        signs=(
            r"\b(throat|tongue|lips?|face|mouth|eyes?)\b.{0,30}\b(swell\w*|swollen|puff\w*|closing|tight\w*)",
            r"\b(swell\w*|swollen|puff\w*)\b.{0,30}\b(throat|tongue|lips?|face)\b",
            r"\banaphyla\w*", r"\b(having|is having|think .{0,12}(having|an?)) (an? )?(severe |bad )?allergic reaction\b",
            (r"\b(hives|welts|rash)\b", r"\b(breath\w*|throat|swallow\w*|wheez\w*)\b"),
            r"\b(labios|lengua|garganta|cara)\b.{0,25}\b(hinch\w*|inflam\w*|cerrando|cierra|cerrad\w*|apretad\w*)",
            r"\b(hinch\w*|inflam\w*)\b.{0,25}\b(labios|lengua|garganta)\b", (r"\bronchas\b", r"\b(respirar|garganta|tragar)\b"),
            r"\breaccion alergica\b",
        ),
    ),
    Category(
        "fainting", "emergency",
        "fainting, collapsing, unresponsive or a seizure now, today or repeatedly",
        ("NHS: fainting, when to call 999", "NHS: what to do if someone has a seizure"),
        signs=(
            r"\b(fainted|fainting|faints|passed out|passing out|pass out|blacked out|blacking out|collapsed|collapsing|unconscious|"
            r"unresponsive|not responding|will not wake( up)?|cannot wake (him|her|them)( up)?|not waking up|"
            r"(having|had) a (seizure|fit)|seizing|convuls\w*)\b",
            r"\b(feel|feels|feeling) (like i am going to|like im going to|i might) (faint|pass out)\b",
            r"\b(se desmay[oe]|me desmaye|desmayos?|perdio el conocimiento|no (responde|despierta|reacciona)|convulsion\w*)\b",
        ),
    ),
    Category(
        "poisoning", "emergency",
        "a child who swallowed medicine or chemicals, or an overdose",
        ("Poison Control (US 1-800-222-1222) / NHS 111: poisoning", "NHS: overdose, call 999"),
        signs=(
            (_CHILD, r"\b(swallowed|ate|eaten|got into|took|drank|chewed|has taken|put .{0,10} in (his|her) mouth|se (tomo|comio|trago)|tomo|comio)\b", _PILLS),
            r"\b(took|taken|swallowed|had|tome|tomo) (like |about |around |a |an )?([5-9]|[1-9]\d|too many|a bunch of|a handful of|all (of )?(my|the|his|her)|"
            r"(a )?whole (bottle|pack|week|day|month)|double|triple|extra|muchas|todas|demasiad\w*) .{0,30}" + _PILLS,
            r"\b(overdos\w*|od'?d)\b", r"\bsobredosis\b",
            r"\b(took|taken|swallowed) ([5-9]|[1-9]\d) (of (my|his|her) )?\w+s\b",
        ),
    ),
    Category(
        "bleeding", "emergency",
        "signs of serious bleeding: black tarry stools, vomiting or coughing blood, bleeding that will not stop",
        ("NHS: warfarin side effects, go to A&E", "NHS: blood in poo (black, tarry stools)"),
        signs=(
            r"\b(black|tarry|tar-like|bloody|maroon)\b.{0,15}\b(stools?|poop|poo|bowel movements?|bm)\b",
            r"\bblood in (my |his |her |the )?(stool|stools|poop|poo|vomit)\b",
            r"\b(stools?|poop|poo|bowel movements?|bm)\b.{0,20}\b(black|tarry|bloody|like tar)\b", r"\bcoffee grounds\b",
            r"\b(vomited|coughed|threw up|throwing up|spat|spit) (up )?blood\b",
            r"\b(bleed\w*|nosebleed|nose bleed)\b.{0,40}\b(will not|does not|would not|cannot|has not|wont) stop\b",
            r"\b(bleed\w*|nosebleed|nose bleed)\b.{0,20}\b(for )?(over |more than )?(\d+|an?|one|two) (minutes|mins|hours?)\b",
            (r"\b(big|large|huge|lots of|unexplained|strange) bruis\w*\b", r"\b(dizzy|faint|weak|for no reason|did not bump|without bumping)\b"),
            r"\bsangr\w*\b.{0,40}\bno (para|se detiene|deja)\b",
            r"\b(coughing|throwing|vomiting|spitting|threw) (up )?blood\b",
            r"\b(will not|does not|cannot) stop bleeding\b|\bbleeding (will not|does not|would not) stop\b|\bbleeding (heavily|a lot|like crazy)\b",
            r"\b(heces|popo|excremento|caca)\b.{0,15}\b(negr\w*|con sangre)\b", r"\b(vomit\w*|tos\w*) (con )?sangre\b",
            r"\bno (para|deja) de sangrar\b", r"\bsangrado que no (para|se detiene)\b",
        ),
    ),
    Category(
        "foot_infection", "urgent",
        "an infected or non-healing foot wound, or toes turning black (gangrene), above all with diabetes or numb feet",
        ("NICE NG19: diabetic foot problems (active diabetic foot problem: refer within 1 working day)",
         "IWGDF guidelines: diabetic foot infection", "NHS: diabetic foot problems, get urgent advice"),
        signs=(
            (r"\b(sores?|wounds?|cuts?|blisters?|ulcers?|open spots?|puncture|lesions?|scrapes?|gash|splinter|stepped on|callus)\b",
             r"\b(infect\w*|pus|ooz\w*|red(ness)?|swell\w*|swollen|smell\w*|stink\w*|warm|hot|streaks?|fever\w*|chills|"
             r"(not|never|will not|is not|has not|does not|did not|didnt) (heal|healed|healing|get better|close|closing)|black|weeping|draining|getting bigger)\b"),
            (r"\b(toes?|foot|feet|heel|finger|fingers|toenail)\b", r"\b(turn(ed|ing)?|went|going|gone|is|are|look(s|ing)?|getting|get) (black|dark|purple|blue)\b"),
            r"\bgangren\w*",
            r"\b(infected|infection in) (my |his |her )?(foot|feet|toe|toes|heel|leg)\b",
            r"\bred streaks?\b",
            (r"\b(herida|llaga|ulcera|ampolla|cortada|lastimadura|raspon)\b",
             r"\b(infect\w*|pus|huele|apesta|roj\w*|hinchad\w*|caliente|negr\w*|no (sana|cierra|se cura)|calentura|fiebre)\b"),
            (r"\b(dedos?|pies?|talon|una)\b", r"\b(ponerse|poniendo|puso|esta|se ve|se esta) (negr\w*|morad\w*)\b"),
            (r"\b(ngon chan|ban chan|vet thuong|loet|chan)\b", r"\b(bi den|mu|sung|hoi|boc mui|chay mu)\b"),
        ),
    ),
    Category(
        "cold_limb", "urgent",
        "a foot or leg that turns cold with pale, blue or white skin, or has no pulse",
        ("NHS: peripheral arterial disease, get help now", "NICE CG147: acute limb ischaemia"),
        signs=(
            (r"\b(foot|feet|toes?|leg|hand|arm)\b", r"\bcold\b.{0,40}\b(pale|blu\w*|white|grey|gray|purpl\w*|mottled|dusky)|"
                                                 r"\b(pale|blu\w*|white|grey|gray|purpl\w*|mottled|dusky)\b.{0,40}\bcold\b"),
            (r"\b(foot|feet|toes?|leg)\b", r"\bsudden(ly)? (went |turned |got |became |is )?(cold|pale|blue|white)"),
            r"\bno pulse\b", r"\bcannot (feel|find) a pulse\b",
            (r"\b(pie|pies|pierna|piernas|dedos?)\b", r"\bfri[oa]s?\b", r"\b(blanc\w*|palid\w*|morad\w*|azul\w*)\b"),
            r"\bno (le )?(encuentran|encuentro|siento|tiene) (el )?pulso\b",
        ),
    ),
    Category(
        "sepsis", "emergency",
        "fever with confusion, drowsiness, a stiff neck, mottled skin or a rash that does not fade",
        ("NHS: sepsis symptoms (call 999)", "NHS: meningitis symptoms"),
        signs=((_FEVER, _CONFUSED),),
    ),
    Category(
        "chemo_fever", "urgent",
        "a fever or chills during chemotherapy",
        ("NHS / UKONS: neutropenic sepsis, call your chemotherapy helpline now", "CDC: preventing infections in cancer patients (fever)"),
        signs=(_FEVER,),
        requires=(_CHEMO,),
    ),
    Category(
        "spinal_cord", "emergency",
        "back pain with new numbness between the legs, or new loss of bladder or bowel control",
        ("NHS: cauda equina syndrome (go to A&E)", "NICE CKS: red flags in low back pain"),
        signs=(
            (r"\b(numb\w*|no feeling|cannot feel|lost feeling|tingl\w*)\b",
             r"\b(between (my|his|her|the) legs|groin|genitals|saddle|bottom|buttocks|private|when i wipe|inner thighs|down there)\b"),
            r"\bcannot (pee|urinate|hold (my |his |her )?(pee|urine|bladder|bowels?)|control (my |his |her )?(bladder|bowels?)|get (my |the )?(pee|urine|stream) (started|going)|feel the toilet paper)\b",
            r"\b(lost|losing|loss of|no) (bladder|bowel) control\b", r"\b(wet|wetting|peed) (myself|himself|herself)\b.{0,60}\bback\b",
            r"\bno (puedo|puede) (orinar|hacer pipi)\b", r"\bperdida (del )?control de (la vejiga|la orina|los intestinos)\b",
            (r"\b(entumid\w*|adormecid\w*|dormid\w*|durmi\w*)\b", r"\b(entre las piernas|entrepierna|nalgas|genitales)\b"),
            r"\bno controla (la vejiga|la orina|el intestino|los intestinos)\b",
        ),
    ),
)

# Within a level, the first category found names the message: the specific before the general ("hives and trouble
# breathing" is an allergic reaction; "sugar 520 and breathing fast" is blood sugar).
PRECEDENCE = ("crisis", "allergic_reaction", "blood_sugar", "poisoning", "head_injury", "bleeding", "sepsis", "spinal_cord",
              "chest_pain", "weakness_breathing", "stroke", "fainting", "cold_limb", "foot_infection", "blood_clot", "chemo_fever")
CATEGORIES = tuple(sorted(CATEGORIES, key=lambda c: PRECEDENCE.index(c.name)))
CATEGORY_NAMES = tuple(c.name for c in CATEGORIES)
BY_NAME = {c.name: c for c in CATEGORIES}
