"""Crisis assessment: who needs a human now, and why.

Spec (issue): critical = danger to life now for the author or the person they care for (suicidal
ideation or self-harm intent, overdose, anaphylaxis / can't breathe, seizures now, no insulin with
a failing meter or vomiting). high = cannot get or afford medication now, rationing, running out
within days, a severe reaction or sudden behaviour change on a drug now. watch = distress without
immediate risk. The past, gratitude, negation, general questions, quotes of others and idioms must
not raise a post above watch. Every level above none carries at least one reason whose character
offsets point at the words that set it.

Each case runs twice: on full enrichment (``Enricher.enrich`` output's ``crisis``, rules plus the
segment model) and on the rules alone (``assess_crisis``). Cases the system still gets wrong are
kept as strict xfails, per layer, so the rules can be improved against them.
"""

from __future__ import annotations

from typing import Any

import pytest

from processors import Enricher
from processors.components.crisis import CrisisDetector, assess_crisis

LAYERS = ("enrich", "rules")


def assess(enricher: Enricher, layer: str, text: str) -> dict[str, Any]:
    if layer == "rules":
        return assess_crisis(text)
    [out] = list(enricher.enrich([{"id": "t3_crisis", "text": text}]))
    return dict(out["crisis"])


def case(
    text: str,
    *cues: str,
    bug: str | None = None,
    rules_bug: str | None = None,
    enrich_bug: str | None = None,
) -> list[Any]:
    """One spec case as a param per layer; ``bug`` applies to both layers."""
    params = []
    for layer in LAYERS:
        why = bug or (rules_bug if layer == "rules" else enrich_bug)
        marks = [pytest.mark.xfail(strict=True, reason=f"{layer}: {why}")] if why else []
        params.append(pytest.param(layer, text, cues, id=f"{layer}: {text}", marks=marks))
    return params


def flatten(groups: list[list[Any]]) -> list[Any]:
    return [param for group in groups for param in group]


def counted_reasons_at(result: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Reasons that set the result's level and carry usable character offsets into ``text``."""
    out = []
    for reason in result["reasons"]:
        if reason.get("ignored") or reason.get("level") != result["level"]:
            continue
        start, end = reason.get("start"), reason.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            out.append(reason)
    return out


def assert_points_at(result: dict[str, Any], text: str, cues: tuple[str, ...]) -> None:
    """Some reason at the result's level has offsets on one of ``cues`` (the words that set it)."""
    reasons = counted_reasons_at(result, text)
    assert reasons, f"level {result['level']} has no reason with offsets: {result['reasons']}"
    if not cues:
        return
    lowered = text.lower()
    spans = []
    for cue in cues:
        at = lowered.find(cue.lower())
        assert at >= 0, f"test bug: cue {cue!r} not in {text!r}"
        spans.append((at, at + len(cue)))
    hits = [r for r in reasons if any(r["start"] < b and a < r["end"] for a, b in spans)]
    assert hits, f"no reason points at {cues}: {[text[r['start'] : r['end']] for r in reasons]}"


# --- critical: danger to life now -----------------------------------------------------------------

CRITICAL = flatten(
    [
        case("everyone would be better off. i have a plan. sorry", "i have a plan"),
        case("2am again. my parents would be fine without me, all the money they spend", "would be fine without me"),
        case("i've been thinking about stopping everything. not just the meds", "thinking about stopping everything"),
        case("my brother (16, I'm his guardian) keeps talking about not wanting to be here", "not wanting to be here"),
        case("his lithium level came back toxic, he's confused and vomiting, on our way in", "level came back toxic"),
        case("@mo_k no, call 999 now. warfarin + a head bump + sleepy is an emergency", "call 999 now"),
        case("@lily use the glucagon now, outer thigh is fine, then ring an ambulance", "use the glucagon now"),
        case("@dan please take him to A&E right now, don't wait for the GP", "take him to A&E right now"),
        case(
            "my daughter told me tonight she doesn't want to be here anymore. she's 14",
            "doesn't want to be here anymore",
        ),
        case("writing my last post here. left my passwords for my sister. thanks all", "writing my last post"),
        case("she's been throwing up since 6 and her dexcom says HIGH, she won't wake properly", "dexcom says HIGH"),
        case("on apixaban, cut my hand and it's been bleeding for over 40 minutes", "bleeding for over 40 minutes"),
        case("@jess_k are u safe right now? im on the phone to the crisis line for you", "are u safe right now"),
        case(
            "@tom_r we've called the police to your address, open the door when they knock",
            "we've called the police to your address",
        ),
        case(
            "goodbye everyone. im sorry for everything, i wont be around to post anymore",
            "wont be around to post anymore",
        ),
        case("gave away my books and my cat this week, written my will, done with it all", "gave away my books"),
        case("my 15yo says she took them 3 hours ago, found her with an empty packet", "says she took"),
        case("dad on apixaban coughed up a cup of blood, ambulance coming", "coughed up a cup of blood"),
        case("crushing chest pain and my left arm is numb, sweating loads", "crushing chest pain"),
        case("havent had insulin in 4 days cos money, throwing up since lunch", "havent had insulin in 4 days"),
        case("nan got into her dosette box, took 2 weeks of tablets in one go", "got into her dosette box"),
        case("grandad's pulse is 35 and he's grey and confused, waiting on the ambulance", "pulse is 35"),
        case("my son's locked himself in and won't answer, texted 'sorry mum'", "locked himself in"),
        case(
            "relapsed tonight. got the blade out and it went deeper than last time, it wont stop bleeding",
            "got the blade out",
            "wont stop bleeding",
        ),
        case(
            "bs 2.4 and its still dropping after 3 juices. think i did my tresiba with the humalog pen by mistake",
            "tresiba with the humalog pen by mistake",
        ),
        case("libre just says HI, been puking all night and my breath smells like nail polish", "libre just says HI"),
        case("gave my books away this week. I won't be a bother to anyone much longer", "won't be a bother"),
        case(
            "@sam please don't go to the bridge, I've called the police to your address, stay on the phone with me",
            "please don't go to the bridge",
        ),
        case(
            "i cant do this anymore. been saving up my seroquel for weeks and tonight is the night",
            "saving up my seroquel",
            "tonight is the night",
            "cant do this anymore",
        ),
        case(
            "my son (16) just told me he wants to kill himself. he's been cutting again and i dont know what to do",
            "wants to kill himself",
            "cutting again",
        ),
        case(
            "wife took the whole bottle of her trazodone about 20 min ago, shes really drowsy, "
            "im on the phone with poison control",
            "took the whole bottle",
            "poison control",
        ),
        case(
            "used my sons epipen 10 mins ago after he ate a cashew and his lips are still swelling, hes wheezing",
            "used my sons epipen",
            "lips are still swelling",
            "wheezing",
        ),
        case(
            "throat feels tight and my tongue is swelling after the first amoxicillin dose, is this normal??",
            "throat feels tight",
            "tongue is swelling",
        ),
        case(
            "my daughter is seizing rn, it's been 6 minutes and the nayzilam isnt working",
            "is seizing",
            "nayzilam isnt working",
        ),
        case(
            "no insulin since tuesday, been throwing up all night and my meter just says HI",
            "no insulin",
            "throwing up",
            "says HI",
        ),
        case(
            "my husband ran out of insulin 2 days ago and now he's puking and his ketones are large",
            "ran out of insulin",
            "puking",
            "ketones are large",
        ),
        case(
            "cant breathe properly, my lips are going blue and my inhaler isnt doing anything",
            "cant breathe",
            "going blue",
        ),
        case(
            "I don't want to be here anymore. everyone would be better off without me",
            "want to be here",
            "better off without me",
        ),
        case("im gonna end it tonight, already wrote the letters", "end it tonight", "wrote the letters"),
        case("mom took like 30 of her ambien and she wont wake up", "took like 30", "wont wake up"),
        case("my kid hasn't stopped convulsing, ambulance is on the way", "convulsing", "ambulance is on the way"),
        case(
            "i feel so sucidal lately and i have a plan",
            "sucidal",
            "have a plan",
        ),
        case("wanna kms fr, so tired of being everyone's burden", "kms", "burden"),
        case("my bf od'd on his xanax and hes barely breathing", "od'd", "barely breathing"),
        case("sons bs is 35 and he's slurring, cant get him to swallow juice", "bs is 35", "slurring"),
        case("I keep thinking about not waking up tomorrow", "thinking about not waking up"),
        case(
            "my daughter keeps saying she wants to hurt herself since she started Accutane",
            "wants to hurt herself",
        ),
        # The past in one sentence does not switch off the present in the next.
        case("Two years ago I overdosed. Tonight I took the whole bottle again.", "took the whole bottle"),
        # A general question does not hide an emergency described after it.
        case(
            "what are the symptoms of DKA? my son's meter says HI and he keeps vomiting",
            "meter says HI",
            "vomiting",
        ),
        # Indirect plans and goodbyes, in words new writers used (session 4).
        case("counted them twice. gonna take all my pills tonight, nobody checks on me anyway", "take all my pills"),
        case("sorted who gets my cat and my records. i'm just a drain on everyone now", "who gets my cat"),
        case("he texted 'i won't be a problem for anyone much longer' and isn't answering", "won't be a problem"),
        case("i decided to end it this weekend before the bills come", "decided to end it"),
        case("if anything happens, can u look after my rabbit? u know what she eats x", "if anything happens"),
        case("the voices want me gone and tonight i'm going to do what they say", "want me gone"),
        case("@sam_t please put the pills down, i'm on my way, leave the door on the latch", "put the pills down"),
        case("thanks for everything all of you. take care of each other. this is it for me", "thanks for everything"),
        case("ive been setting my sleeping tablets aside since spring. i have enough now", "aside since spring"),
        case("necking my diazepam with vodka tonight, whatever happens happens", "diazepam with vodka"),
        # Emergencies described without the usual words.
        case("dad's face has dropped on the left and his speech is all wrong, started 15 mins ago", "face has dropped"),
        case("her seizure began 7 mins ago and still hasn't stopped, buccal given", "hasn't stopped"),
        case("on apixaban and this nosebleed has gone on for 45 minutes, swallowing blood", "swallowing blood"),
        case(
            "dental extraction this morning, on warfarin, still soaking through the gauze", "soaking through the gauze"
        ),
        case("wasp sting at the park and now her lips are puffing up and she sounds hoarse", "puffing up"),
        case("no insulin since friday, haven't had any for 3 days and i keep throwing up", "haven't had any"),
        case("cgm says LO and my husband is confused and won't let me give him juice", "says lo"),
        # Weak signals that count together (combinations in crisis.yaml).
        case("giving my plants and my cat to my sister. she'll be better at it than me", "giving my plants"),
        case("so sorry to everyone. the tablets are all here in front of me", "sorry to everyone"),
        case("goodbye guys. i mean it this time.", "goodbye guys"),
        case(
            "3 boxes of zopiclone on the desk. nobody home until tuesday. wanted someone to know", "boxes of zopiclone"
        ),
        case(
            "@jo_r glucagon into the outer thigh, through her leggings is fine, then put her on her side", "outer thigh"
        ),
        case("novorapid's gone till friday and i've been throwing up since lunch, so thirsty", "novorapid's gone"),
        case(
            "@sam_k i've called 999 and given them your address, unlock the door if you can", "given them your address"
        ),
        case("sertraline stash is at 50 now. saturday when the house is empty.", "stash is at 50"),
        case("just injected all of the tresiba pen. dont try and find me", "injected all of the tresiba pen"),
        case("mum collapsed in the kitchen, sweating and not answering me properly, meter says 1.8", "collapsed"),
        case("4 years clean and the blades are back out. it ends tonight.", "it ends tonight"),
        # Someone close repeating what they said is their danger, not a quote to set aside.
        case("my son said 'i'm not gonna be here for christmas' and locked his door", "not gonna be here for"),
        case("@ghostie u said 'kms for real this time' and then logged off. pls answer anyone", "kms"),
        # Signs of the body that count together (session 5): in plain or non-native English, each
        # sign alone is common, together they are the emergency.
        case(
            "my father face is falling one side and he cannot lift the right arm. is it the stroke?",
            "face is falling",
            "cannot lift the right arm",
        ),
        case("My mother she fall and now cannot speak, mouth is crooked. Please what to do", "cannot speak"),
        case("the pressure in my chest has been there 40 min and it's going into my jaw", "pressure in my chest"),
        case("husband have chest pain very strong since 30 minutes, sweat cold", "chest pain"),
        case("my wife is diabetic and just staring at me and sweating, won't answer", "diabetic", "just staring"),
        case("puking for 6 hrs, my ketones r 4.8 and mom is at work", "ketones r 4.8", "puking"),
        case(
            "My daughter 7 year diabetes, she vomit 5 times, breathing very deep and fast",
            "vomit",
            "breathing very deep",
        ),
        case("on eliquis after my knee op and it's pouring blood through 2 dressings", "eliquis", "pouring blood"),
        case("I take lithium 5 years. Since 2 days I vomit and I walk like drunk", "vomit", "walk like drunk"),
        case("dad's on chemo for lymphoma, he's burning up 39.4 and confused", "burning up", "39.4"),
        case("I had my baby 2 days ago and I'm soaking through the towels", "had my baby", "through the towels"),
        case("my toddler drank from a cup that had my methadone in it, she's hard to wake", "hard to wake"),
        case("friend took molly on her lexapro and now she's super hot and twitching nonstop", "molly", "super hot"),
        # The past told in one clause does not make another clause's present past.
        case(
            "my husband is clutching his chest and grey and sweating, he had a heart attack 2 yrs ago",
            "clutching his chest",
        ),
        # Replies telling someone in danger what to do this minute (session 5).
        case("@Steve_B that's not the gym mate. 999 now. unlock the door, chew an aspirin", "999 now"),
        case("@wrenlight please move away from that drawer and go to where people are. call 988", "move away from"),
        # A drug started weeks ago is still taken tonight: the past does not excuse it.
        case("My son started clozapine 3 weeks ago. Tonight he has a fever of 39 and chest pain", "fever of 39"),
        case("Grandson (3) got my pill organiser open. Monday to Thursday are empty", "pill organiser open"),
        case(
            "Gave my medals to my nephew today. Signed the truck over to my daughter. Squared away.", "gave my medals"
        ),
        # Emergencies of other conditions (dev18): dialysis, sickle cell, COPD, ICDs, pregnancy, meningitis.
        case("cant talk much. chest bad. blue inhaler not doing anything. 3rd neb. sats 82", "sats 82"),
        case("Baby has a high temp and purple dots. I pressed a glass on them and they DIDN'T fade", "didn't fade"),
        case(
            "I think my 2yo swallowed a button battery from the key fob, she's acting fine",
            "swallowed a button battery",
        ),
        case("ICD has shocked me 3 times in 20 minutes. I'm on the bathroom floor shaking", "shocked me 3"),
        case("34+2, haven't felt her move since last night. Tried cold water and lying on my left", "felt her move"),
        case("My son (7, HbSS) has a temp of 38.9 and he has a port. it's 3am", "temp of 38.9"),
        case(
            "unit sent me home without a run and now my chest feels tight and both arms are tingly", "chest feels tight"
        ),
        case("worst headache of my life came on like a thunderclap and now I'm seeing double", "worst headache"),
        # Affairs put in order, with a goodbye or an intent.
        case(
            "Sorted the will, cancelled the gym, left the spare key. Bye, I suppose.",
            "sorted the will",
            "bye, i suppose",
        ),
        case("wrote him a note explaining where everything is. going for a drive", "note explaining"),
        # Session 6: the suicidal in a second language, emergencies of less common conditions.
        case("Visa refused again. I think better I am not here anymore, they are more safe without me", "not here"),
        case("my husband is doing back blows on Dad right now, he's gone purple", "doing back blows"),
        case("son's trach is plugged, sats dropping, changing the tube now", "trach is plugged"),
        case("dad just brought up a pint of dark red blood into the sink, he's white and clammy", "pint of dark red"),
        case("day 12 of chemo for ALL, she's 38.6 and shivering and her legs look mottled", "38.6"),
        case("MG 6 yrs. can't swallow my own spit and my breathing feels shallow lying down", "can't swallow"),
        case("her neck is stiff and she's burning up, 39.8, screams at the light", "neck is stiff"),
        case("so tired of this. been reading about how much amitriptyline would be enough", "would be enough"),
        # Session 6: the Englishes of the world.
        case("I don tire for this life. Everybody go dey better without me. Tonight na tonight.", "tonight na tonight"),
        case("I swallow all de pills in de house. Everyting spinning. Doh call meh mudda.", "swallow all de pills"),
        case("Himself's after havin a fit in the kitchen, 6 minutes now an he's not comin round", "6 minutes now"),
        case("Giving away my cricket bat and my books to my cousins. Won't need them where I'm going.", "where i'm going"),
        # A clinician's header excuses the signs of the body it teaches, not the clinician's own words.
        case("Nurse here. I can't do this anymore, the pills are lined up on the counter. Goodbye everyone", "lined up"),
        case("my nurse here is useless, my chest is crushing and my left arm is numb", "chest is crushing"),
    ]
)

# --- high: cannot get, afford or keep taking medication; severe reaction or change on a drug now ---

HIGH = flatten(
    [
        case("cant afford my insulin this month so im rationing till payday", "cant afford my insulin", "rationing"),
        case(
            "pharmacy is out of vyvanse again, my son has been without it for 3 days",
            "out of vyvanse",
            "without it for 3 days",
        ),
        case(
            "only 2 pens of Ozempic left and insurance denied the refill", "2 pens of Ozempic left", "insurance denied"
        ),
        case("been cutting my lamictal in half to make it last until the 15th", "cutting my lamictal in half"),
        case(
            "down to my last vial of Humalog and the script wont be filled until next week",
            "last vial",
            "wont be filled",
        ),
        case(
            "since they upped his Keppra he's been so aggressive, punched a hole in the wall. this is not him",
            "so aggressive",
            "this is not him",
        ),
        case(
            "broke out in hives all over after my second dose of Bactrim, itching like crazy",
            "hives all over",
        ),
        case(
            "insurance wont cover my Trulicity anymore and I cant afford it, what do I do",
            "wont cover",
            "cant afford",
        ),
        case(
            "ran out of my Effexor 2 days ago, brain zaps and dizzy as hell, doc cant see me till next week",
            "ran out of my Effexor",
        ),
        case("CVS says the Adderall is on backorder and my daughter has 2 pills left", "backorder", "2 pills left"),
        case(
            "my dad started prednisone last week and now he's hallucinating, seeing bugs on the walls",
            "hallucinating",
            "seeing bugs",
            rules_bug="no behaviour-change cue: 'hallucinating' counts only right after 'since starting'",
            enrich_bug="rules find nothing and the model alone calls it critical, with no offsets",
        ),
        case(
            "been skipping doses of my Eliquis to stretch it until my next paycheck",
            "skipping doses",
            "stretch it",
        ),
        case("my pharmacy refused to fill my Xanax and im down to my last pill", "refused to fill", "last pill"),
        case("Ran outta albuterol and cant get a refill til monday", "Ran outta albuterol", "cant get a refill"),
        case(
            "my 14 yo on Singulair has been screaming and throwing things since starting it, not herself at all",
            "screaming",
            "throwing things",
            "not herself",
        ),
        case(
            "my husband on Abilify hasnt slept in 3 nights and he spent the rent money",
            "hasnt slept in 3 nights",
            "spent the rent",
        ),
    ]
)

# --- watch: distress without immediate risk --------------------------------------------------------

WATCH = flatten(
    [
        case("so overwhelmed since the diagnosis, I cried in the car after the appointment", "overwhelmed", "cried"),
        case("I'm terrified of starting methotrexate next week", "terrified"),
        case("exhausted and hopeless, this flare has lasted 3 months", "exhausted", "hopeless"),
        case("I can't cope with these injections, I hate this disease", "can't cope", "hate this disease"),
        case("feeling so alone in this, nobody in my family gets what lupus is like", "alone in this", "nobody"),
    ]
)

# --- traps: none, or watch at most -----------------------------------------------------------------

PAST = [
    case("two years ago I ended up in the ER with DKA after rationing my insulin"),
    case("I used to self harm as a teen but I'm 6 years clean now"),
    case("I survived an overdose in 2019 and now I volunteer with NAMI"),
    case("the insulin shortage last year was scary but we got through it"),
    case("When I was 19 I took a whole bottle of Tylenol. 15 years later I'm an ER nurse"),
    case("back in 2016 my son had a seizure that wouldn't stop and we called 911"),
    case("my sister's kid had anaphylaxis at school last spring, she's fine now"),
]
GRATITUDE = [
    case("lithium saved my life, 10 years stable now"),
    case("Rinvoq literally saved my life. 3 years in remission"),
    case("Narcan saved my brother's life, forever grateful to that paramedic"),
    case("No side effects at all on Zoloft, honestly a lifesaver"),
]
NEGATED = [
    case("I'm not suicidal, just really fed up with this flare"),
    case("Don't worry, I'm not going to hurt myself. just venting about my GI"),
    case("never had to ration my insulin thank god, good insurance"),
    case("Not out of insulin yet but getting close-ish, refill is in 3 weeks"),
]
GENERAL_QUESTIONS = [
    case("What are the signs of anaphylaxis in toddlers?"),
    case("what happens if you take too much Tylenol?"),
    case("What should you do if someone overdoses on opioids? want to be prepared"),
    case("Has anyone ever had a seizure from Wellbutrin? asking before I start it"),
    case("anyone know if you can cut Adderall XR in half? asking for future reference"),
]
QUOTES = [
    case("my therapist asked if I'd had thoughts of suicide and honestly the answer was no"),
    case('the lady in the Ozempic ad goes "I can\'t breathe without my inhaler" and I lost it'),
    case('my doctor said "if your throat ever feels tight, use the epipen and call 911"'),
    case("My nurse asks whether I've had thoughts of self-harm at every single visit"),
    case('My 5yo screams "I\'m gonna die" every time she gets her allergy shot lol'),
]
IDIOMS = [
    case("dying to know if anyone has tried Rinvoq for UC"),
    case("this commercial makes me want to die lol"),
    case("I'm dead tired after my infusion today but it went fine"),
    case("this heat wave is going to be the death of me"),
    case("I'd kill for a burrito rn, day 3 on Ozempic and the food noise is back"),
    case("the Humira price hike is killing me lmao"),
    case(
        "I'm running out of spoons today, the fatigue is brutal",
        bug="'running out of <any word>' counts as running out of medication (spoon theory idiom)",
    ),
    case(
        "ran out of patience with my insurance company lol",
        bug="'ran out of <any word>' counts as running out of medication",
    ),
    case("I literally can't breathe 😂😂 this thread is too much"),
    case("ugh I'm going to die 😂 this meeting will not end"),
]
NOT_THE_AUTHOR = [
    case("sepsis after chemo looks like: fever, shivers, feeling off. call your hotline, don't wait"),
    case("i have a plan for my keto week and i'm sticking to it"),
    case("read in the Daily Mail that montelukast causes suicidal thoughts, should I worry about my grandson?"),
    case("new inhaler today, do i use it before the gym or only when i can't breathe?"),
    case("Epilepsy Awareness Week starts Monday, free seizure first-aid webinar, link in bio"),
    case("that's how people end up in DKA, stop telling type 1s to cut their insulin"),
    case("kms if this zoom call runs over again"),
    case("the regulator took 15 yrs to add that warning"),
    case("a year ago i overdosed and woke up in resus. today im 300 days free from self harm"),
    case("took 3 weeks of sick leave after the surgery, back at work now"),
    case("Grey's last night when she overdosed in the on-call room... the actress deserves an emmy"),
    case("finished that novel and the self-harm scenes wrecked me, need something light now"),
    case("three years since we lost Leo to sepsis. learn the signs: mottled skin, fast breathing"),
    case("just read about that teen in Leeds who overdosed on pills from Snapchat. heartbreaking"),
    case("i swear i'll kill myself if the train is late again"),
    case("read an article about a man in Minnesota who died rationing insulin. this is why we fight #insulin4all"),
    case("these insulin prices are criminal, people are dying because of rationing"),
    case("gonna unalive my phone alarm, 6am again tomorrow 😩"),
    case("giving away my old pump supplies, anyone want them? collection only"),
    case("that's odd, my pen clicked twice but the dose window says 4"),
    case("odds are it's nothing but my psa doubled, biopsy next week"),
    case("thinking about quitting my biologic cold turkey, so sick of injections. talk me out of it?"),
    case("nosebleed this morning on apixaban took 25 minutes to stop. it's stopped now, do i tell someone?"),
    case("Seizure first aid from our club's neurologist: keep them on their side and time it"),
    case("If you or someone you know is thinking about suicide, you are not alone. Text 988 any time."),
    case("heading out and not coming back till sunday, girls' weekend, phone off"),
    case("I wrote the letter. To my 15 year old self. Told her she makes it."),
    case("goodbye everyone, see you all at the meetup on saturday"),
    case("sorry to everyone for the long post, i love you all, this group is the best"),
    case("update: she had anaphylaxis at lunch, used the epipen, got home from A&E now and she's fine now"),
    case("this is my last post here, we're moving over to the new group the admin set up"),
    case("As an oncology nurse: a temp of 38 on chemo means call us, any hour"),
    case("in our house ctb means carb to bolus, nothing sinister"),
    case("If you ever feel like ending it, text SHOUT to 85258. Sharing for awareness week."),
    case("Warning signs someone may be at risk: giving away belongings, talking about being a burden."),
    case("1000 days since i last hurt myself today. proud"),
    case("relapsed on self harm last week, cleaned it properly, told my therapist, feeling ashamed"),
    case("throwback to my first anaphylaxis at 12, the nurse who gave me adrenaline is why i'm a nurse"),
    case("i have officially overdosed on zoom calls this week"),
    case("tonight's the night!!! pump start in the morning, too excited to sleep"),
    case("sorry for being a burden with all my questions this week, first month after diagnosis"),
    case("how many puffs of ventolin should you take before going to A&E? writing the action plan"),
    case("honestly thought i was going to die on that hike without my inhaler. made it back though"),
    # Session 5: teen slang, games, a danger already over, advice.
    case("my mom made me wear a sweater to school, kms 🙄"),
    case("not gonna kms or anything but i'm so done with everyone at school"),
    case("when the boss gets you to 1 hp and you pop the phoenix down — i literally stopped breathing"),
    case("my pokemon fainted at the final gym and i had to go outside for an hour"),
    case("@ria_m she's stable on the ward now, thank you all for the messages last night"),
    case("A toxicologist's plea: stop recommending charcoal for every ingestion. Call poison control."),
    case("counts came back low again so chemo is pushed a week. no fever, feel ok, just frustrated"),
    case("every time the baby sleeps long i wake up sure he's stopped breathing. he's fine, always fine"),
    case("had a seizure at the gym today, first in 2 years. friend drove me home, gutted about driving"),
    case("chest pain and sweating during my panic attack two years ago, turned out fine"),
    case("@newasthmamum spacer and reliever, 1 puff every minute up to 10, and if no better call an ambulance"),
    case("@lilbee for next time: use the pen even for mouth tingling, then call an ambulance"),
    case("Lost my wife to sepsis 2 years ago after her chemo. Nobody told us what a temperature of 38 meant."),
    case("wont be around for my next appointment because im MOVING TO CANADA!!! wish me luck"),
    case("yesterday his sugar went 2.9 and he was sweating and confused. we gave juice and now he is okay"),
    case("Paramedic here. Hypothermia: shivering stops, confusion, slurred speech. Warm gradually."),
    case("ICU nurse here: sepsis looks like a fever with confusion or mottled skin. Call 999."),
    case("my daughter swallowed a button battery at 18 months. she's 5 now and totally fine"),
    case("Doctor prescribed me clopidogrel after a stent 3 weeks back. Now small bruises and gums bleeding a little"),
    # Session 6: idioms and teaching beside the new signals.
    case("this heatwave is going to finish me off. my insulin's happier in its cool bag than I am"),
    case("CPR course tonight with the scouts, we practised back blows on the dummy"),
    case("MG for 10 years. mestinon before meals and I can swallow fine, breathing's fine"),
    case("the rash on my arm is mottled looking but no fever, just itchy"),
    case("She's stable on the cardiac ward now, they reversed the warfarin. Thank you for pushing me to ring 999"),
    case("My brain keeps telling me everyone would be fine without me but it's lying. I'm safe tonight."),
    case("At 16 I walked into the river meaning not to come out. I'm 40 now and I teach swimming. Stay."),
    case("2019 me swallowed a whole pack of paracetamol. 2024 me just got a puppy and a promotion"),
    case("Reading about the three teens who overdosed at a house party in Leeds. Talk to your kids tonight."),
    case("Overdose response: check breathing, call 911, give naloxone, recovery position, stay with them."),
    case("if one more person hits reply-all I will genuinely walk into the sea 🌊"),
    case("Power cut tonight and the concentrator went off. Switched to a cylinder, power back in 40 minutes."),
    case("sometimes everyone would be better off without me but i know thats the depression lying. told my counsellor"),
    case("Anaphylaxis signs: swelling of the throat, trouble breathing, pale or floppy. Adrenaline pen first."),
    case("FAST: Face drooping, Arm weakness, Speech difficulty, Time to call 999."),
    case("my manager put a 4:45pm friday meeting in the calendar i'm actually going to kms"),
    case("Rescue med worked in about two minutes tonight. She's asleep on her side, breathing slow and even."),
    case("Seizure first aid: Stay, Safe, Side. If a seizure lasts longer than 5 minutes, call emergency services."),
    case("My daughter died at 19 of an asthma attack nobody took seriously. Sign our petition for action plans."),
    case("Insulin pump week 1: went to bed, woke up at 6.2. I've not woken up in range in 12 years. Might cry."),
    case("Dravet mum here. 14 seizures this week, all under 3 mins, rescue meds not needed. She's ok tho."),
    case("no I am NOT going to take all my meds at once, my dosette box broke 😂 can you tell them apart?"),
    case(
        "Our helpline is open until 8pm tonight for anyone affected by the insulin shortage",
        bug="'shortage' in an organisation's announcement counts as the author unable to get medication",
    ),
]
TRAPS = flatten(PAST + GRATITUDE + NEGATED + GENERAL_QUESTIONS + QUOTES + IDIOMS + NOT_THE_AUTHOR)

ARGS = ("layer", "text", "cues")


@pytest.mark.parametrize(ARGS, CRITICAL)
def test_critical(enricher: Enricher, layer: str, text: str, cues: tuple[str, ...]) -> None:
    result = assess(enricher, layer, text)
    assert result["level"] == "critical", result
    assert_points_at(result, text, cues)


@pytest.mark.parametrize(ARGS, HIGH)
def test_high(enricher: Enricher, layer: str, text: str, cues: tuple[str, ...]) -> None:
    result = assess(enricher, layer, text)
    assert result["level"] == "high", result
    assert_points_at(result, text, cues)


@pytest.mark.parametrize(ARGS, WATCH)
def test_watch(enricher: Enricher, layer: str, text: str, cues: tuple[str, ...]) -> None:
    result = assess(enricher, layer, text)
    assert result["level"] == "watch", result
    assert_points_at(result, text, cues)


@pytest.mark.parametrize(ARGS, TRAPS)
def test_trap_stays_at_watch_or_below(enricher: Enricher, layer: str, text: str, cues: tuple[str, ...]) -> None:
    result = assess(enricher, layer, text)
    assert result["level"] in ("none", "watch"), result
    if result["level"] == "watch":
        assert_points_at(result, text, cues)


# --- shape ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_assessment_has_level_score_and_reasons(enricher: Enricher, layer: str) -> None:
    for text in ("my kid hasn't stopped convulsing", "lithium saved my life", "Week 3 on Mounjaro"):
        result = assess(enricher, layer, text)
        assert set(result) == {"level", "score", "reasons"}
        assert result["level"] in ("none", "watch", "high", "critical")
        assert 0.0 <= result["score"] <= 1.0
        assert isinstance(result["reasons"], list)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_post_without_any_cue_is_none(enricher: Enricher, layer: str) -> None:
    result = assess(enricher, layer, "Week 3 on Mounjaro and down 8 lbs, feeling good")
    assert result["level"] == "none"


@pytest.mark.parametrize("layer", LAYERS)
def test_critical_posts_outscore_posts_at_none(enricher: Enricher, layer: str) -> None:
    """The score orders a review queue: a person in danger comes before a post with no risk."""
    critical = [assess(enricher, layer, p.values[1]) for p in CRITICAL if p.values[0] == layer and not p.marks]
    calm = [assess(enricher, layer, p.values[1]) for p in TRAPS if p.values[0] == layer and not p.marks]
    calm_scores = [r["score"] for r in calm if r["level"] == "none"]
    assert calm_scores
    assert min(r["score"] for r in critical) > max(calm_scores)


def test_a_combination_of_unknown_signals_stops_start_up() -> None:
    data = {
        "critical": {},
        "high": {},
        "watch": {},
        "suppress": {},
        "signals": {"farewell": ["goodbye"]},
        "combinations": {"farewell_with_plan": {"level": "critical", "weight": 0.9, "all_of": ["farewell", "plan"]}},
    }
    with pytest.raises(ValueError, match=r"farewell_with_plan.*plan"):
        CrisisDetector(data)


def test_literal_signals_must_be_signals() -> None:
    data = {
        "critical": {},
        "high": {},
        "watch": {},
        "suppress": {},
        "signals": {"chest_pain": ["chest pain"]},
        "literal_signals": ["chest_pain", "sweating"],
        "combinations": {},
    }
    with pytest.raises(ValueError, match=r"literal_signals.*sweating"):
        CrisisDetector(data)


def test_a_joke_does_not_excuse_signs_of_the_body() -> None:
    """Laughter excuses hyperbole ("kms lol"), not a chest pain spreading to the arm."""
    text = "chest is crushing and it's going down my left arm lol what is happening"
    result = assess_crisis(text)
    assert result["level"] == "critical"
    [reason] = [r for r in result["reasons"] if r["rule"] == "heart_attack_pain_spreading"]
    assert [s["rule"] for s in reason["signals"]] == ["chest_pain", "radiating"]


def test_a_sign_of_the_body_alone_is_not_critical() -> None:
    assert assess_crisis("chest pain on and off today, probably the gym")["level"] != "critical"
    assert assess_crisis("my dad is on warfarin and bruises easily")["level"] != "critical"


def test_a_signal_alone_is_not_a_crisis_but_a_combination_names_its_signals() -> None:
    alone = assess_crisis("sorry to everyone, long day")
    assert alone["level"] == "none"
    text = "sorry to everyone. the pills are in front of me"
    result = assess_crisis(text)
    assert result["level"] == "critical"
    [reason] = [r for r in result["reasons"] if r["rule"] == "farewell_with_means"]
    assert [(s["rule"], text[s["start"] : s["end"]]) for s in reason["signals"]] == [
        ("farewell", "sorry to everyone"),
        ("means", "pills are in front of me"),
    ]
