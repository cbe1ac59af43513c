"""Red-flag triage by clinical category: each phrasing below must (or must not) be flagged by `qa.safety.assess`.

What it checks: a message that describes a situation needing care now is flagged with the right named
category and that category's level (crisis, emergency or urgent); a message that only borrows the alarming
words (a past, checked or resolved event, a hypothetical or informational question, a figure of speech, the
everyday chronic symptoms of neuropathy, or someone long ago) is not flagged at all. When one message holds
two red flags, the more severe level wins (crisis > emergency > urgent).

Where the phrasings come from: they were written by hand from the category definitions of the rules rewrite
and from the standard red-flag guidance (NHS "when to call 999 / go to A&E", NICE, hypoglycaemia and DKA
guidance, Guillain-Barré warning signs, 988 crisis guidance), in the way patients and carers type: typos, no
capitals, texting, backstories, a question about acupuncture tacked on at the end, carers writing about a
parent or child. They were not taken from, or checked against, any judged question set or the current rules.

What it leaves out: the wording of the safety message shown, and how the answerer uses the result. The rules
are pure (no model), so this module is fast.
"""

from __future__ import annotations

from collections import Counter

import pytest

LEVELS = {
    "chest_pain": "emergency",
    "stroke": "emergency",
    "weakness_breathing": "emergency",
    "blood_clot": "urgent",
    "blood_sugar": "emergency",
    "head_injury": "emergency",
    "allergic_reaction": "emergency",
    "fainting": "emergency",
    "poisoning": "emergency",
    "bleeding": "emergency",
    "foot_infection": "urgent",
    "sepsis": "emergency",
    "chemo_fever": "urgent",
    "spinal_cord": "emergency",
    "crisis": "crisis",
    "cold_limb": "urgent",
}
# When one message holds two red flags, the higher one is what the user must see first.
SEVERITY = {"crisis": 3, "emergency": 2, "urgent": 1}
# Only these categories are written out in the languages beyond English and Spanish.
MORE_LANGUAGES_CATEGORIES = ("chest_pain", "stroke", "crisis")


# --- English -----------------------------------------------------------------------------------------------

POSITIVES_EN = [
    # chest_pain
    ("chest_pain", "chest pain right now going down my left arm and im sweating"),
    ("chest_pain", "My husband (68, diabetic) has had a tight squeezing feeling in his chest for the last hour "
                   "and he feels sick. He says it's just indigestion. Should he still come to his acupuncture at 3?"),
    ("chest_pain", "crushing pressure in my chest since this morning, it goes up into my jaw"),
    ("chest_pain", "heavy feeling on my chest tonite and i cant catch my breath"),
    ("chest_pain", "Had acupuncture on my upper back and shoulders this afternoon and now I get a sharp stabbing "
                   "pain in my chest every time I breathe in"),
    ("chest_pain", "chest been hurting on and off since yesterday, it spreads to my back between the shoulder "
                   "blades. im on chemo for breast cancer. can I still come in thursday?"),
    ("chest_pain", "my mum has chset pain and pain in her left arm, shes 74 what do i do"),
    ("chest_pain", "i think im having a heart attack"),
    # stroke
    ("stroke", "my dad's face is drooping on one side and his words are slurred, it started 20 min ago"),
    ("stroke", "Suddenly my right arm and leg went weak and numb. This is different from my usual foot numbness."),
    ("stroke", "mom cant find her words this morning, talking gibberish, and her left hand is weak"),
    ("stroke", "worst headache of my life, came on all of a sudden like a thunderclap"),
    ("stroke", "lost the vision in one eye just now, like a curtain came down"),
    ("stroke", "grandpa is suddenly very confused, doesnt know where he is and his smile is crooked. we have an "
               "acupuncture appt at 2, should we cancel?"),
    ("stroke", "I've had neuropathy in both feet for years but for the last hour my whole left side feels numb "
               "and my speech is slurry"),
    # weakness_breathing
    ("weakness_breathing", "my legs got weak over the last two days and now my arms are getting weak too. "
                           "I had a stomach bug 2 weeks ago"),
    ("weakness_breathing", "I can't breathe properly even sitting still"),
    ("weakness_breathing", "short of breath at rest since this morning and its getting worse"),
    ("weakness_breathing", "husbands legs are getting weaker by the hour, he cant stand up now. it started "
                           "yesterday with tingling in his feet"),
    ("weakness_breathing", "having trouble swallowing since last night, even water, and I keep choking"),
    ("weakness_breathing", "my daughter is choking on something and can't talk"),
    ("weakness_breathing", "tingling started in my toes on monday, now its up to my hips and I can barely climb "
                           "the stairs. is this normal neuropathy? should I book acupuncture?"),
    ("weakness_breathing", "struggling to breathe tonight, can only say a few words at a time"),
    # blood_clot
    ("blood_clot", "my left calf is swollen, red and hot since I got back from a long flight yesterday"),
    ("blood_clot", "Right leg swollen and painful after my knee surgery last week, the other leg is normal."),
    ("blood_clot", "my mom has been in bed for a week with the flu and now one of her calves is puffy and sore "
                   "to touch"),
    ("blood_clot", "pain in my calf when I walk and its warm and bigger than the other one. could acupuncture "
                   "help it?"),
    ("blood_clot", "is a swollen hot calf something to worry about? it started two days ago after the drive back "
                   "from florida"),
    ("blood_clot", "one leg swollen since yesterday, tight shiny skin, hurts when I flex my foot. I'm on tamoxifen"),
    ("blood_clot", "swolen red calf on one side only, 3 days after my hip replacemnt"),
    # blood_sugar
    ("blood_sugar", "my sugar is 45 and i'm shaking and sweating"),
    ("blood_sugar", "reading 2.5 mmol, feel confused and wobbly"),
    ("blood_sugar", "meter just says HI and I've been throwing up all morning"),
    ("blood_sugar", "My son is type 1. His sugar is 520, he's vomiting and breathing really fast."),
    ("blood_sugar", "mom is diabetic, shes sweaty and not making sense, her sugar was 38 when i checked just now"),
    ("blood_sugar", "blood sugar 480 tonight, so thirsty and drowsy, peeing constantly. can I still have "
                    "acupuncture tomorrow?"),
    ("blood_sugar", "feeling low rn, shaky sweaty heart racing, meter says 52"),
    ("blood_sugar", "I think I'm having a hypo, I'm shaky and can't think straight"),
    # head_injury
    ("head_injury", "I'm on warfarin and I fell and hit my head on the bathroom sink this morning"),
    ("head_injury", "dad takes Eliquis, he slipped on the ice an hour ago and banged the back of his head. "
                    "he seems ok but has a bump"),
    ("head_injury", "hit my head on the car door yesterday and now ive thrown up twice and the headache is "
                    "getting worse"),
    ("head_injury", "My mom fell out of bed last night and hit her head on the nightstand. Today she's really "
                    "drowsy and keeps repeating herself."),
    ("head_injury", "fell because i cant feel my feet, smacked my head on the floor. im on xarelto. should i go in "
                    "or is it fine"),
    ("head_injury", "tripped over the dog and whacked my head on the counter 2 hrs ago, I take plavix and aspirin. "
                    "Is it still ok to come for acupuncture at 4?"),
    ("head_injury", "knocked my head hard on a cabinet this afternoon, now I'm sleepy and confused"),
    # allergic_reaction
    ("allergic_reaction", "my lips and tongue are swelling up after I took the new antibiotic"),
    ("allergic_reaction", "throat feels tight and my face is puffy, got stung by a bee 10 min ago"),
    ("allergic_reaction", "hives all over and I'm having trouble breathing, it started after I ate shrimp"),
    ("allergic_reaction", "my daughters face is swelling after she ate something with peanuts in it"),
    ("allergic_reaction", "Started a new nerve pain med (pregabalin) yesterday and now my tongue feels thick and my "
                          "lips are swollen. Should I stop it, or can acupuncture replace it?"),
    ("allergic_reaction", "eyes and lips swollen after the new chemo infusion today, throat scratchy and tight"),
    ("allergic_reaction", "throat closing up after eating at a restaurant"),
    # fainting
    ("fainting", "my husband just passed out in the kitchen"),
    ("fainting", "mom collapsed and isnt responding"),
    ("fainting", "I fainted twice today"),
    ("fainting", "my son is having a seizure right now"),
    ("fainting", "I blacked out this morning getting out of bed and woke up on the floor. I have an acupuncture "
                 "appt this afternoon, should I still go?"),
    ("fainting", "she fainted at church an hour ago, came round but keeps nearly passing out again"),
    ("fainting", "im in your parking lot and my wife just fainted in the car"),
    # poisoning
    ("poisoning", "my 2 year old swallowed some of grandma's pills"),
    ("poisoning", "toddler got into the cabinet under the sink and drank some bleach"),
    ("poisoning", "my husband took too many of his oxycodone, he's very drowsy and breathing slowly"),
    ("poisoning", "I think I took a double or triple dose of my gabapentin by mistake, I feel really confused and "
                  "sleepy"),
    ("poisoning", "grandson (4) ate some of my metformin tablets, we found the bottle open. how many is dangerous? "
                  "also do you do acupuncture for kids"),
    ("poisoning", "my son bit into a dishwasher pod and swallowed some"),
    ("poisoning", "mom accidentally took a whole week of pills from her pill organizer at once, shes drowsy"),
    # bleeding
    ("bleeding", "I'm on warfarin and my poop has been black and tarry since yesterday"),
    ("bleeding", "vomited blood this morning, I take xarelto"),
    ("bleeding", "nosebleed for over an hour and it won't stop, I'm on blood thinners"),
    ("bleeding", "coughing up blood tonight, I'm on chemo and my platelets are low"),
    ("bleeding", "big bruises showed up on my legs and stomach that i didnt bump and i'm dizzy. on warfarin. can "
                 "acupuncture still be done?"),
    ("bleeding", "The needle spot on my hand from yesterday is still bleeding and won't stop. I take Plavix."),
    ("bleeding", "dad's on eliquis, he cut his finger and its been bleeding 40 minutes even with pressure"),
    ("bleeding", "threw up what looked like coffee grounds, I'm on Eliquis"),
    # foot_infection
    ("foot_infection", "I have a sore on my big toe that's red, hot and oozing pus. I'm diabetic."),
    ("foot_infection", "blister on my heel from new shoes, now it smells bad and theres a red streak going up my "
                       "ankle"),
    ("foot_infection", "my dad's toes are turning black, he's diabetic and can't feel his feet"),
    ("foot_infection", "ulcer on the bottom of my foot isnt healing and is getting redder and more swollen. can "
                       "acupuncture help it heal?"),
    ("foot_infection", "Cut my foot on something and didn't notice because of the numbness. Now it's swollen and "
                       "red and I have a fever."),
    ("foot_infection", "theres a wound on my foot that smells and the skin around it is going dark"),
    ("foot_infection", "my toe went dark purple-black over the weekend, no feeling in it"),
    # sepsis
    ("sepsis", "fever of 103 and my husband is confused and hard to wake"),
    ("sepsis", "high temperature and a rash that doesn't fade when I press a glass on it"),
    ("sepsis", "my mom has a fever and a stiff neck and the light hurts her eyes"),
    ("sepsis", "temp 39.8, shivering, skin looks blotchy and mottled"),
    ("sepsis", "grandma has a UTI and now a high fever, shes not making sense and very sleepy"),
    ("sepsis", "burning up with fever since last night and so drowsy I can barely stay awake. Do I need to cancel "
               "tomorrow's acupuncture?"),
    ("sepsis", "my son has a high temp and purple spots that dont go away when pressed"),
    # chemo_fever
    ("chemo_fever", "I'm on chemo and my temperature is 38.3"),
    ("chemo_fever", "on folfox, temp 100.8 tonight"),
    ("chemo_fever", "got the chills and shivers, had my chemo infusion 8 days ago"),
    ("chemo_fever", "My wife is in the middle of chemo for breast cancer and she's running a fever of 101. "
                    "Oncology said to call if she gets a fever but it's the weekend."),
    ("chemo_fever", "fever 38.5 during chemotherapy, do I still come for acupuncture tomorrow?"),
    ("chemo_fever", "chemo patient here, shaking with chills for an hour, temp 38"),
    ("chemo_fever", "on taxol, feel hot and shivery, thermometer says 100.4"),
    # spinal_cord
    ("spinal_cord", "bad back pain and now numb between my legs, started yesterday"),
    ("spinal_cord", "back pain for a week and since this morning I can't pee"),
    ("spinal_cord", "I've wet myself twice today with no warning and my lower back is killing me"),
    ("spinal_cord", "my dad has cancer in his spine, now his back hurts more and since yesterday he can't control "
                    "his bowels"),
    ("spinal_cord", "numbness in my bottom and inner thighs when I wipe, plus sciatica down both legs. can "
                    "acupuncture help the back?"),
    ("spinal_cord", "lower back pain getting worse, cant feel the toilet paper and cant get my pee started"),
    ("spinal_cord", "slipped disc flared up, now my saddle area is numb and I've lost bladder control"),
    # crisis
    ("crisis", "I don't want to be alive anymore"),
    ("crisis", "whats the point anymore. nothing helps the pain"),
    ("crisis", "everyone would be better off without me"),
    ("crisis", "i've been saving up my pills just in case"),
    ("crisis", "wrote letters to my kids just in case. anyway do you take medicare for acupuncture"),
    ("crisis", "I can't do this anymore, 6 years of burning feet and no one helps"),
    ("crisis", "I won't be around much longer so does it even matter if I try acupuncture"),
    ("crisis", "been cutting myself again"),
    ("crisis", "thinking of ending it all"),
    ("crisis", "my son (17) told me tonight he wants to kill himself"),
    ("crisis", "honestly want to kms, this pain never stops"),
]

POSITIVES_EN += [
    # cold_limb (added by the rules' author after the rest of this file was written: a foot or leg that suddenly
    # turns cold and pale or blue, or has no pulse: NHS, peripheral arterial disease; NICE CG147)
    ("cold_limb", "my right foot went cold and white about an hour ago and it really hurts"),
    ("cold_limb", "dads left foot is ice cold and turning blue since this morning, he has diabetes"),
    ("cold_limb", "the podiatrist couldnt find a pulse in my foot today and its pale and cold"),
    ("cold_limb", "suddenly my leg went cold and pale and numb, i can barely move it"),
    ("cold_limb", "Her toes look mottled and grey and feel cold to the touch, it started tonight."),
    ("cold_limb", "i cant feel a pulse in my moms foot and its a weird purple colour and cold"),
]

NEAR_MISSES_EN = [
    ("cold_limb", "my feet are always cold, even in summer, is that the neuropathy?"),
    ("cold_limb", "cold feet at night for years, socks help"),
    ("cold_limb", "my toes go white in the cold and come back pink, my doctor said it's raynaud's"),
    ("cold_limb", "can acupuncture help circulation in cold feet?"),
    # chest_pain
    ("chest_pain", "I had chest pain last year, it turned out to be reflux and I'm fine now. Can acupuncture help "
                   "my feet?"),
    ("chest_pain", "my wife will have a heart attack when she sees the bill lol"),
    ("chest_pain", "What are the warning signs of a heart attack? My doctor said diabetics can have silent ones."),
    ("chest_pain", "can the needles puncture a lung if you do points on the chest?"),
    ("chest_pain", "I had a stent put in in 2019 after chest pains, the cardiologist says my heart is fine now. "
                   "Is acupuncture ok with a stent?"),
    # stroke
    ("stroke", "my dad had a stroke in 2017, he's stable now. can acupuncture help his hand?"),
    ("stroke", "Can acupuncture help after a stroke?"),
    ("stroke", "my feet and hands have been numb for years from diabetes"),
    ("stroke", "filling out these insurance forms is giving me a stroke lol"),
    ("stroke", "I get the same migraines I've had since I was a teenager, my neurologist knows. do you treat "
               "headaches?"),
    # weakness_breathing
    ("weakness_breathing", "my legs have felt weak for years because of the neuropathy, I use a cane"),
    ("weakness_breathing", "What are the warning signs of Guillain-Barre?"),
    ("weakness_breathing", "I had Guillain-Barre in 2015 and mostly recovered, I still have some numbness in my "
                           "feet. would acupuncture help?"),
    ("weakness_breathing", "i trip a lot because i can't feel my feet"),
    ("weakness_breathing", "the price nearly made me choke on my coffee"),
    # blood_clot
    ("blood_clot", "Does acupuncture help DVT?"),
    ("blood_clot", "I had a DVT in 2019, finished the blood thinners and the last scan was all clear"),
    ("blood_clot", "both my ankles swell a little by evening, always have, my doctor says it's fine"),
    ("blood_clot", "I'm flying to see my daughter next month, what can I do to prevent clots on the plane?"),
    ("blood_clot", "my calves cramp at night sometimes, is that the neuropathy?"),
    # blood_sugar
    ("blood_sugar", "I had a low sugar last week, had some juice and was fine"),
    ("blood_sugar", "my A1c was 7.2 at my last check, is acupuncture ok for diabetics?"),
    ("blood_sugar", "What should my blood sugar be before a session?"),
    ("blood_sugar", "my sugar was 112 this morning"),
    ("blood_sugar", "sugar is killing me lol I can't stop eating cookies"),
    # head_injury
    ("head_injury", "I hit my head on a cupboard two years ago, it was fine"),
    ("head_injury", "is acupuncture safe on blood thinners?"),
    ("head_injury", "I'm on Eliquis, can I still get needles?"),
    ("head_injury", "banging my head against the wall with these insurance people"),
    ("head_injury", "my dad fell and hit his head back in 2018, he's fine now"),
    # allergic_reaction
    ("allergic_reaction", "I'm allergic to nickel, are your needles stainless steel?"),
    ("allergic_reaction", "I had hives from penicillin as a kid"),
    ("allergic_reaction", "what if I'm allergic to the needles?"),
    ("allergic_reaction", "my lips are chapped from the cold"),
    ("allergic_reaction", "does acupuncture help with seasonal allergies?"),
    # fainting
    ("fainting", "I fainted once at a blood draw in high school"),
    ("fainting", "what if I faint during a session?"),
    ("fainting", "I almost passed out when I saw the price lol"),
    ("fainting", "I used to have seizures as a child but haven't had one in 30 years"),
    # poisoning
    ("poisoning", "how many gabapentin can I take in a day?"),
    ("poisoning", "how do I keep my pills away from my grandkids?"),
    ("poisoning", "my son swallowed a penny when he was 3, he's 20 now"),
    ("poisoning", "last month I accidentally took my morning pill twice, the pharmacist said it was fine"),
    ("poisoning", "I'm going to swallow my pride and ask: does acupuncture hurt?"),
    # bleeding
    ("bleeding", "I'm on Eliquis, will the needles make me bleed?"),
    ("bleeding", "I had a nosebleed last month, it stopped after five minutes"),
    ("bleeding", "had a stomach bleed in 2020, it was treated and I'm fine now"),
    ("bleeding", "which blood thinners are ok with acupuncture?"),
    ("bleeding", "my heart bleeds for anyone living with this condition"),
    # foot_infection
    ("foot_infection", "my foot ulcer healed in April, the podiatrist was happy"),
    ("foot_infection", "how do I check my feet for sores if I can't feel them?"),
    ("foot_infection", "cold feet all the time"),
    ("foot_infection", "burning feet at night, worse in bed"),
    ("foot_infection", "what does gangrene look like? asking so I know what to watch for"),
    # sepsis
    ("sepsis", "I had a fever from my flu shot last month, gone in a day"),
    ("sepsis", "my neck is stiff from sleeping funny, can acupuncture help?"),
    ("sepsis", "what are the signs of sepsis?"),
    ("sepsis", "I had sepsis in 2021 and spent a week in hospital. I'm recovered now but my feet have been numb "
               "ever since"),
    # chemo_fever
    ("chemo_fever", "I had a fever during chemo last year, antibiotics fixed it"),
    ("chemo_fever", "what temperature counts as a fever on chemo?"),
    ("chemo_fever", "chemo finished 3 years ago and my feet still tingle"),
    ("chemo_fever", "pins and needles since chemo ended"),
    # spinal_cord
    ("spinal_cord", "I've had lower back pain for ten years, can acupuncture help?"),
    ("spinal_cord", "What is cauda equina?"),
    ("spinal_cord", "I get up to pee twice a night"),
    ("spinal_cord", "numb feet and lower legs for years from diabetes"),
    ("spinal_cord", "my back is killing me after gardening"),
    # crisis
    ("crisis", "these feet are killing me"),
    ("crisis", "I'm dying to try acupuncture"),
    ("crisis", "I was depressed years ago, therapy helped and I'm doing well now"),
    ("crisis", "I could kill for a good night's sleep"),
    ("crisis", "is acupuncture safe for someone on antidepressants?"),
]


# --- Spanish (as US Spanish speakers type: accents and ¿ optional, some Spanglish) ---------------------------

POSITIVES_ES = [
    ("chest_pain", "tengo dolor de pecho ahorita y me baja al brazo izquierdo"),
    ("chest_pain", "mi esposo tiene una presion en el pecho desde hace una hora, esta sudando y con nauseas. "
                   "tiene cita de acupuntura hoy, la cancelamos?"),
    ("chest_pain", "hoy me pusieron agujas en la espalda y ahora me duele el pecho cuando respiro, un dolor punzante"),
    ("stroke", "a mi mama se le cayo un lado de la cara y no puede hablar bien, empezo hace rato"),
    ("stroke", "de repente no puedo mover el brazo derecho y se me duerme la pierna del mismo lado"),
    ("stroke", "mi papá está confundido de repente y habla raro, arrastrando las palabras"),
    ("stroke", "el peor dolor de cabeza de mi vida, me empezó de golpe"),
    ("weakness_breathing", "se me estan debilitando las piernas desde ayer y ahora tambien los brazos"),
    ("weakness_breathing", "no puedo respirar bien aunque estoy sentada"),
    ("weakness_breathing", "mi hijo se está ahogando con comida y no puede hablar"),
    ("weakness_breathing", "me cuesta tragar desde anoche, hasta el agua"),
    ("blood_clot", "tengo la pantorrilla izquierda hinchada, roja y caliente desde que regrese del vuelo"),
    ("blood_clot", "despues de la cirugia de rodilla se me hincho una pierna y me duele mucho"),
    ("blood_clot", "a mi abuela se le hinchó una sola pierna después de estar en cama una semana, y está caliente"),
    ("blood_sugar", "tengo el azucar en 45 y estoy temblando y sudando"),
    ("blood_sugar", "el glucometro dice HI y estoy vomitando"),
    ("blood_sugar", "mi hija tiene el azúcar en 500, respira muy rápido y tiene mucha sed"),
    ("head_injury", "me caí y me pegué en la cabeza, tomo warfarina"),
    ("head_injury", "mi papá toma Eliquis y se golpeó la cabeza con la puerta hace una hora"),
    ("head_injury", "me pegue en la cabeza ayer y ahorita estoy vomitando y el dolor de cabeza es cada vez peor"),
    ("allergic_reaction", "se me estan hinchando los labios y la lengua despues de la medicina nueva"),
    ("allergic_reaction", "me pico una abeja y siento la garganta cerrada"),
    ("allergic_reaction", "tengo ronchas por todo el cuerpo y me cuesta respirar, comí camarón"),
    ("fainting", "mi esposo se desmayó ahorita en la cocina"),
    ("fainting", "mi mama se desplomo y no responde"),
    ("fainting", "mi hijo esta convulsionando"),
    ("poisoning", "mi niño de 2 años se tragó unas pastillas de la abuela"),
    ("poisoning", "mi hija se tomo cloro"),
    ("poisoning", "mi esposo se tomó demasiadas pastillas para el dolor por error, está muy dormido y respira "
                  "lento"),
    ("bleeding", "tomo warfarina y desde ayer hago popo negra como chapopote"),
    ("bleeding", "estoy vomitando sangre y tomo Eliquis"),
    ("bleeding", "me sangra la nariz desde hace una hora y no para, tomo anticoagulante"),
    ("foot_infection", "tengo una llaga en el dedo del pie, roja, caliente y con pus, soy diabético"),
    ("foot_infection", "a mi papá se le están poniendo negros los dedos del pie"),
    ("foot_infection", "la ampolla del talon huele feo y tiene una raya roja que va subiendo"),
    ("sepsis", "mi mamá tiene calentura muy alta y está confundida"),
    ("sepsis", "fiebre de 40 y el cuello tieso, no lo puede doblar"),
    ("sepsis", "tiene calentura y unas manchas moradas que no se quitan al apretar"),
    ("chemo_fever", "estoy en quimio y tengo calentura de 38.5"),
    ("chemo_fever", "mi esposa esta en quimioterapia y tiene escalofrios desde la tarde"),
    ("chemo_fever", "tengo fiebre de 101 y me dieron la quimio la semana pasada"),
    ("spinal_cord", "me duele la espalda y se me durmio la parte de entre las piernas"),
    ("spinal_cord", "dolor de espalda y desde esta mañana no puedo orinar"),
    ("spinal_cord", "mi papa tiene dolor de espalda y desde ayer ya no controla la vejiga"),
    ("crisis", "ya no quiero vivir"),
    ("crisis", "ya no aguanto más, todos estarían mejor sin mí"),
    ("crisis", "he estado juntando mis pastillas por si acaso"),
    ("crisis", "i can't do this anymore, ya no puedo con el dolor"),
]

POSITIVES_ES += [
    ("cold_limb", "se me puso el pie frio y blanco de repente hace una hora"),
    ("cold_limb", "a mi papa se le puso la pierna fria y morada desde esta mañana"),
    ("cold_limb", "no le encuentran el pulso en el pie y lo tiene frio y palido"),
]

NEAR_MISSES_ES = [
    ("cold_limb", "siempre tengo los pies frios por la neuropatia"),
    ("cold_limb", "¿la acupuntura ayuda a la circulación de los pies fríos?"),
    ("chest_pain", "el año pasado tuve dolor de pecho pero era reflujo, ya estoy bien"),
    ("chest_pain", "a mi esposa le va a dar un infarto cuando vea la cuenta jaja"),
    ("stroke", "mi papá tuvo un derrame en 2017, ya está estable. ¿la acupuntura le puede ayudar?"),
    ("stroke", "tengo los pies dormidos desde hace años por la diabetes"),
    ("weakness_breathing", "tengo las piernas débiles desde hace años por la neuropatía"),
    ("weakness_breathing", "que es el sindrome de Guillain-Barre?"),
    ("blood_clot", "tuve un coágulo en la pierna en 2019, ya terminé el tratamiento"),
    ("blood_clot", "la acupuntura ayuda con la trombosis?"),
    ("blood_sugar", "la semana pasada se me bajo el azucar pero me tome un jugo y ya"),
    ("blood_sugar", "¿cuánto debe estar el azúcar antes de la acupuntura?"),
    ("head_injury", "me pegué en la cabeza hace dos años y no pasó nada"),
    ("head_injury", "tomo anticoagulantes, puedo hacerme acupuntura?"),
    ("allergic_reaction", "soy alérgica al níquel, ¿las agujas tienen níquel?"),
    ("allergic_reaction", "de niño me salieron ronchas con la penicilina"),
    ("fainting", "me desmaye una vez cuando me sacaron sangre en la prepa"),
    ("fainting", "¿qué pasa si me desmayo en la sesión?"),
    ("poisoning", "cuantas pastillas de gabapentina puedo tomar al dia?"),
    ("poisoning", "mi hijo se tragó una moneda cuando tenía 3 años, ahora tiene 20"),
    ("bleeding", "tomo Xarelto, ¿las agujas me van a hacer sangrar?"),
    ("bleeding", "el mes pasado me sangro la nariz pero paro rapido"),
    ("foot_infection", "la úlcera del pie ya sanó en abril"),
    ("foot_infection", "se me enfrian los pies todo el tiempo"),
    ("sepsis", "tuve fiebre por la vacuna el mes pasado, se me quitó en un día"),
    ("sepsis", "tengo el cuello tieso de dormir chueco"),
    ("chemo_fever", "tuve fiebre durante la quimio el año pasado"),
    ("chemo_fever", "terminé la quimio hace 3 años y todavía me hormiguean los pies"),
    ("spinal_cord", "tengo dolor de espalda baja desde hace diez años"),
    ("spinal_cord", "me levanto a orinar dos veces en la noche"),
    ("crisis", "estos pies me están matando"),
    ("crisis", "me muero de ganas de probar la acupuntura"),
]


# --- More languages, for chest_pain, stroke and crisis only ----------------------------------------------------

POSITIVES_FR = [
    ("chest_pain", "j'ai une douleur dans la poitrine depuis une heure qui descend dans le bras gauche"),
    ("chest_pain", "mon mari a une oppression dans la poitrine et il transpire, il a rendez-vous pour "
                   "l'acupuncture cet après-midi"),
    ("stroke", "ma mère a la bouche de travers et elle n'arrive plus à parler depuis ce matin"),
    ("stroke", "d'un coup mon bras droit ne répond plus et j'ai du mal à parler"),
    ("crisis", "je ne veux plus vivre"),
    ("crisis", "tout le monde serait mieux sans moi, je n'en peux plus"),
]
NEAR_MISSES_FR = [
    ("chest_pain", "j'ai eu des douleurs à la poitrine l'année dernière, c'était du reflux"),
    ("stroke", "mon père a fait un AVC en 2017, il est stable. l'acupuncture peut aider ?"),
    ("crisis", "ces pieds me tuent"),
]

POSITIVES_PT = [
    ("chest_pain", "estou com dor no peito agora que vai para o braço esquerdo"),
    ("chest_pain", "meu pai está com um aperto no peito desde de manhã e suando frio"),
    ("stroke", "minha mãe está com a boca torta e a fala enrolada, começou agora"),
    ("stroke", "de repente meu braço e minha perna do lado esquerdo ficaram fracos"),
    ("crisis", "não quero mais viver"),
    ("crisis", "estou guardando meus remédios para acabar com tudo"),
]
NEAR_MISSES_PT = [
    ("chest_pain", "tive dor no peito ano passado mas era refluxo"),
    ("stroke", "meu pai teve um AVC em 2017, hoje está estável"),
    ("crisis", "esses pés estão me matando"),
]

POSITIVES_ZH = [
    ("chest_pain", "我现在胸口很痛，疼到左手臂，还出冷汗"),
    ("chest_pain", "我爸爸从早上开始胸口发闷，还恶心出汗，下午的针灸还去吗？"),
    ("stroke", "我妈突然嘴歪了，说话不清楚"),
    ("stroke", "突然右边胳膊和腿没力气，也麻了"),
    ("crisis", "我不想活了"),
    ("crisis", "活着没意思，大家没有我会更好"),
]
NEAR_MISSES_ZH = [
    ("chest_pain", "去年胸痛过，检查是胃酸反流，现在没事了"),
    ("stroke", "我爸2017年中风过，现在很稳定，针灸能帮助康复吗？"),
    ("crisis", "这脚疼死我了"),
]

# One positive per category with diacritics and one without: many Vietnamese speakers type without them.
POSITIVES_VI = [
    ("chest_pain", "tôi đang bị đau ngực, lan ra cánh tay trái và vã mồ hôi"),
    ("chest_pain", "ba toi bi tuc nguc tu sang toi gio, do mo hoi nhieu"),
    ("stroke", "mẹ tôi đột nhiên bị méo miệng và nói ngọng"),
    ("stroke", "tu nhien tay chan ben trai bi yeu va te"),
    ("crisis", "tôi không muốn sống nữa"),
    ("crisis", "moi nguoi se tot hon neu khong co toi"),
]
NEAR_MISSES_VI = [
    ("chest_pain", "năm ngoái tôi bị đau ngực nhưng do trào ngược dạ dày, giờ ổn rồi"),
    ("stroke", "bố tôi bị đột quỵ năm 2017, giờ đã ổn định"),
    ("crisis", "toi bi tram cam nhieu nam truoc, gio da khoe roi"),
]

POSITIVES = {"en": POSITIVES_EN, "es": POSITIVES_ES, "fr": POSITIVES_FR, "pt": POSITIVES_PT, "zh": POSITIVES_ZH,
             "vi": POSITIVES_VI}
NEAR_MISSES = {"en": NEAR_MISSES_EN, "es": NEAR_MISSES_ES, "fr": NEAR_MISSES_FR, "pt": NEAR_MISSES_PT,
               "zh": NEAR_MISSES_ZH, "vi": NEAR_MISSES_VI}


# --- Mixed: two red flags in one message, and a red flag in the middle of a backstory -----------------------

# (expected category, the other flag, text): the expected one is the flag at the more severe level.
MIXED = [
    ("crisis", "chest_pain",
     "chest pain since this morning but honestly I don't care, everyone would be better off without me"),
    ("crisis", "blood_clot",
     "my calf has been swollen and hot since the flight on sunday. not that it matters, ive been saving up my pills"),
    ("blood_sugar", "foot_infection",
     "diabetic here, my toe sore is red and full of pus and smells, and now my sugar is 480 and I'm vomiting"),
    ("sepsis", "chemo_fever",
     "my mom is on chemo, she has a fever of 39 and tonight she's confused and very drowsy"),
]

LONG_POSITIVES = [
    ("stroke",
     "Hi, I'm 67 and I've been a type 2 diabetic for about 20 years. The numbness in my feet started maybe eight "
     "years ago and got a lot worse after I had chemo for colon cancer in 2021, so now I have burning and pins and "
     "needles most nights. My wife found your clinic online and we were planning to book a consultation. This "
     "morning while I was having breakfast my left arm suddenly went weak and I dropped my cup, and my wife says the "
     "left side of my face looks droopy and I'm not making sense. Anyway, my main question is whether acupuncture "
     "can help the burning in my feet and how many sessions people usually need?"),
    ("head_injury",
     "my mum is 81 and has had neuropathy in both feet for years, she's been on warfarin since her valve "
     "replacement. she's very independent and still does her own garden even though she can't really feel her "
     "feet. yesterday evening she tripped on the step and hit her head on the patio, she says she's fine and "
     "doesn't want a fuss. we wanted to book acupuncture for her feet, do you do home visits and do you take "
     "medicare?"),
]

# Every alarming word here is in the past and resolved: nothing to flag.
LONG_NEAR_MISSES = [
    "Some history before my question: in 2018 I had a DVT after a long flight and was on Xarelto for six months. "
    "In 2020 I had a foot ulcer that took a while but healed completely, and I fainted once at the dentist years "
    "ago. My dad had a stroke in 2015 and is doing well. These days I just have numb, burning feet from diabetes, "
    "worse at night. Does acupuncture help with that, and how long is a session?",
]


def _cases(tables):
    """One pytest param per (category, text) row, with an id like `es-stroke-2` (language, category, number)."""
    out = []
    for language, rows in tables.items():
        seen = Counter()
        for category, text in rows:
            seen[category] += 1
            out.append(pytest.param(category, text, id=f"{language}-{category}-{seen[category]}"))
    return out


def _show(found) -> str:
    return "None" if found is None else f"{found.category} ({found.level})"


@pytest.mark.parametrize("category, text", _cases(POSITIVES))
def test_red_flag_is_found_with_its_category_and_level(category, text):
    from qa.safety import assess

    found = assess(text)
    assert found is not None, f"not flagged, expected {category}: {text!r}"
    assert found.category == category, f"flagged as {_show(found)}, expected {category}: {text!r}"
    assert found.level == LEVELS[category], f"level {found.level!r}, expected {LEVELS[category]!r}: {text!r}"


@pytest.mark.parametrize("category, text", _cases(NEAR_MISSES))
def test_near_miss_is_not_flagged(category, text):
    """`category` is the one whose words the text borrows; nothing should be flagged."""
    from qa.safety import assess

    found = assess(text)
    assert found is None, f"flagged as {_show(found)} (words borrowed from {category}), expected nothing: {text!r}"


@pytest.mark.parametrize("category, text", [(c, t) for c, _, t in MIXED] + LONG_POSITIVES,
                         ids=[f"mixed-{c}-over-{o}" for c, o, _ in MIXED]
                         + [f"long-{c}-{i}" for i, (c, _) in enumerate(LONG_POSITIVES, 1)])
def test_more_severe_flag_wins_and_backstory_does_not_hide_it(category, text):
    from qa.safety import assess

    found = assess(text)
    assert found is not None, f"not flagged, expected {category}: {text!r}"
    assert found.level == LEVELS[category], f"level {found.level!r}, expected {LEVELS[category]!r}: {text!r}"
    assert found.category == category, f"flagged as {_show(found)}, expected {category}: {text!r}"


@pytest.mark.parametrize("text", LONG_NEAR_MISSES,
                         ids=[f"long-near-miss-{i}" for i in range(1, len(LONG_NEAR_MISSES) + 1)])
def test_long_resolved_history_is_not_flagged(text):
    from qa.safety import assess

    found = assess(text)
    assert found is None, f"flagged as {_show(found)}, expected nothing: {text!r}"


# --- the tables themselves (these pass without the rules) -----------------------------------------------------

MINIMUMS = {  # language: (positives, near-misses) per category, and which categories
    "en": (6, 4, tuple(LEVELS)),
    "es": (3, 2, tuple(LEVELS)),
    "fr": (2, 1, MORE_LANGUAGES_CATEGORIES),
    "pt": (2, 1, MORE_LANGUAGES_CATEGORIES),
    "zh": (2, 1, MORE_LANGUAGES_CATEGORIES),
    "vi": (2, 1, MORE_LANGUAGES_CATEGORIES),
}


@pytest.mark.parametrize("language", list(MINIMUMS))
def test_tables_cover_every_category(language):
    positives, near_misses, categories = MINIMUMS[language]
    pos = Counter(c for c, _ in POSITIVES[language])
    near = Counter(c for c, _ in NEAR_MISSES[language])
    assert set(pos) | set(near) <= set(LEVELS), f"unknown categories: {(set(pos) | set(near)) - set(LEVELS)}"
    for category in categories:
        assert pos[category] >= positives, f"{language} {category}: {pos[category]} positives, want {positives}"
        assert near[category] >= near_misses, f"{language} {category}: {near[category]} near-misses, want {near_misses}"


def test_no_text_is_both_a_positive_and_a_near_miss_or_listed_twice():
    texts = [t for rows in POSITIVES.values() for _, t in rows] + [t for rows in NEAR_MISSES.values() for _, t in rows]
    texts += [t for _, _, t in MIXED] + [t for _, t in LONG_POSITIVES] + LONG_NEAR_MISSES
    duplicates = [t for t, n in Counter(texts).items() if n > 1]
    assert not duplicates, f"listed more than once: {duplicates}"


@pytest.mark.parametrize("expected, other", [(c, o) for c, o, _ in MIXED], ids=[f"{c}-over-{o}" for c, o, _ in MIXED])
def test_mixed_cases_expect_the_more_severe_flag(expected, other):
    assert SEVERITY[LEVELS[expected]] > SEVERITY[LEVELS[other]], f"{expected} does not outrank {other}"


def test_every_category_of_the_rules_is_tested():
    from qa.red_flags import BY_NAME

    assert set(LEVELS) == set(BY_NAME), "a category without phrasings here, or phrasings for a category that is gone"
    assert all(BY_NAME[name].level == level for name, level in LEVELS.items())
