"""Risk signals: what an email says that makes it an incident whatever words the rest of it uses.

A security report can read like a refund question ("the refund went to a bank account I never added"),
an injury like a repair question. Similarity to a category's words cannot be trusted with those, so the
guard also looks for what such reports say in any business: activity the customer disowns, a leaked
secret, a message pretending to come from the business; danger to a person's health or safety; threats;
someone else's dishonesty (cheating, a false claim); legal action. Each kind belongs to the escalating
category of the tenant's policy whose own words describe it best (its name, description, keywords and
examples); a kind that no escalating category describes is ignored, so a business that does not escalate,
say, legal threats is not given a rule it never wrote.

The phrases are general English, written for no tenant; they err toward a person looking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from schemas import Category, Policy
from specialists.kit import own_lines, plain, tokens, unsigned


@dataclass(frozen=True)
class RiskKind:
    name: str
    """What the email reports, as the escalation reason says it."""
    words: tuple[str, ...]
    """The words a category that covers this kind uses to describe itself, as written (docs/tenant-files.md lists
    them)."""
    said: re.Pattern[str]
    unsaid: re.Pattern[str] | None = None
    """What says the risk did not happen ("nobody was hurt"): blanked before `said` reads the text."""

    @cached_property
    def described_by(self) -> frozenset[str]:
        """`words` as a category's own words are compared with them: stemmed."""
        return frozenset(tokens(" ".join(self.words)))


def _kind(name: str, described_by: str, *patterns: str, unsaid: tuple[str, ...] = ()) -> RiskKind:
    # matched against lower-cased text: without IGNORECASE the patterns run three to four times faster
    denied = re.compile("|".join(unsaid), re.VERBOSE) if unsaid else None
    said = re.compile("|".join(patterns), re.VERBOSE)
    return RiskKind(name, tuple(described_by.split()), said, denied)


_IN_THE_HEAT = (
    r"(?=[^\n]{0,200}\b(?:hot|heat|degrees|sun|panting|windows?\s+(?:are\s+|were\s+)?(?:all\s+)?(?:up|shut|closed))\b)"
)
"""Followed, within the email's line, by heat or shut windows (a dog in a car is danger only then)."""

_ACTIONS = (
    r"book(?:ed)?|order(?:ed)?|place[d]?|ma[dk]e|authori[sz]e[d]?|request(?:ed)?|add(?:ed)?|sign(?:ed)?\s+up|"
    r"log(?:ged)?\s+in|sign(?:ed)?\s+in|buy|bought|purchase[d]?|create[d]?|set\s+up|approve[d]?|"
    r"transfer(?:red)?|register(?:ed)?|appl(?:y|ied)\s+for|give|gave|share[d]?|enable[d]?|join(?:ed)?|"
    r"subscribe[d]?|enrol(?:l)?(?:ed)?|ask(?:ed)?\s+for|put|upload(?:ed)?|install(?:ed)?|post(?:ed)?|upgrade[d]?|"
    r"wr(?:ite|ote|itten)\s+(?:any\s+of\s+)?(?:it|this|that|them|these|those)(?!\s+down)|sen[dt]\s+(?:any\s+of\s+)?(?:it|this|that|them|these|those)|"
    r"change[d]?\s+(?:my|our|the)\s+(?:password|e-?mail|phone|mobile|number|bank|address|details|payout|pin)"
)

_YOUNG = (
    r"(?:[1-9]|1[0-7]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen)[-\s]?(?:years?|yrs?)[-\s]?old"
)
_A_CHILD = (
    rf"(?:my|our|his|her|their|a)\s+{_YOUNG}|kids?\s+profile|(?:my|our)\s+(?:child|children|kid|kids|son|daughter|"
    r"little\s+(?:one|boy|girl))"
)
"""A child, as a parent names one."""
_ADULT_RATED = (
    r"rated\s+(?:an?\s+)?(?:r\s?)?18|(?:r\s?)?18[-\s]?(?:rated|certificate|cert)|18\s+(?:film|movie|game|show|series)|"
    r"adult[-\s]only|adults[-\s]only|adult\s+(?:content|film|movie|material)|porn\w*"
)
"""Content for adults only, by its rating or its name."""

KINDS: tuple[RiskKind, ...] = (
    _kind(
        "activity the customer did not do, or a fraud or phishing attempt",
        "security secure fraud fraudulent scam phishing hack hacked compromised unauthorised unauthorized "
        "suspicious takeover login logins password breach stolen theft identity impersonation misuse misused "
        "someone else credentials sign-in recognise recognize",
        rf"\b(?:i|we|nobody|no\s+one|none\s+of\s+(?:us|our\s+\w+))\s+(?:here\s+|at\s+\w+\s+)?(?:\w+ly\s+)?"
        rf"(?:did\s+not|didn't|didnt|never|have\s+not|haven't|has\s+not|hasn't|had\s+not|hadn't)\s+"
        rf"(?:\w+\s+)?(?:{_ACTIONS})\b(?![^.?!\n]{{0,40}}\byet\b)",
        # as it is written without the auxiliary: "I not make this orders"
        rf"(?:^|[.,;:!?\n]\s*|\b(?:and|but|so)\s+)(?:i|we)\s+not\s+(?:{_ACTIONS})\b",
        rf"\b(?:nobody|no\s+one|none\s+of\s+(?:us|our\s+\w+))\s+(?:here\s+|at\s+\w+\s+|in\s+(?:our|my|the)\s+"
        rf"(?:house|home|family|household|team|office|company)\s+)?(?:{_ACTIONS})\b",
        r"\b(?:(?:it|that|this)\s+(?:was\s*n[o']?t|was\s+not|is\s*n[o']?t|is\s+not|'s\s+not)\s+(?:me|us)|not\s+me)\b",
        r"\bi\s+did\s+(?:neither|none)\b",
        r"\bnone\s+of\s+us\s+(?:was|were)\s+(?:there|here|on\s+site|in\s+the\s+building)\b|"
        r"\bwho\s+(?:was|did)\s+(?:it|that|this)\s*\?",
        rf"\b(?:and|or|nor)\s+(?:have\s+|had\s+)?never\s+(?:even\s+)?(?:{_ACTIONS})\b",
        r"\b(?:i|we)(?:'ve|\s+have|\s+had)?\s+never\s+(?:even\s+)?heard\s+of\s+(?:you|your\s+company|this\s+company|"
        r"(?:either\s+of\s+|any\s+of\s+|both\s+of\s+)?them|the\s+company)\b",
        r"\bwho\s+(?:has\s+|had\s+|is\s+)?(?:used|use|uses|using|accessed|taken|charged)\s+(?:my|our)\s+(?:card|account|"
        r"bank\s+details|details|identity|name|e-?mail|login)\b",
        r"\b(?:i|we)(?:'ve|\s+have)?\s+never\s+(?:even\s+)?(?:been|lived|stayed|worked)\s+(?:to|in|at)\b",
        r"\b(?:nobody|no\s+one|none\s+of\s+us)\s+(?:here\s+|(?:at|from|in)\s+(?:our\s+|the\s+)?\w+\s+)?(?:has|have|had|was|were)\s+(?:ever\s+|even\s+)?"
        r"(?:been|driven|travelled|traveled|gone|stayed)\s+(?:to|in|near|at)\b(?!\s+(?:touch|contact))",
        r"\b(?:nobody|no\s+one|none\s+of\s+us)\s+(?:here\s+)?did\s+(?:it|this|that)\b",
        r"\b(?:i|we)\s+(?:didn't|did\s+not|never)\s+do\s+(?:it|this|that)\b",
        r"\b(?:log-?ins?|sign-?ins?|devices?|sessions?|users?|e-?mail(?:\s+address)?|address|phone\s+number|"
        r"mobile\s+number)\s+(?:that\s+)?(?:i|we)\s+(?:do\s+not|don't|dont|"
        r"did\s+not|didn't)\s+recogni[sz]e\b",
        r"\b(?:password|e-?mail\s+address|phone\s+number|mobile\s+number|bank\s+details|account\s+details|pin|"
        r"payout\s+account)\s+(?:was|were|has\s+been|have\s+been|got|had\s+been)\s+changed\b",
        r"\b(?:i|we)\s+(?:haven't|have\s+not|didn't|did\s+not|hadn't)\s+(?:yet\s+)?click(?:ed)?\b",
        r"\b(?:is|was)\s+(?:this|that|it)\s+(?:really\s+)?(?:you|genuine|legit(?:imate)?|real)\s*\?",
        # a caller, a text or a visitor the customer cannot place, wanting money or details
        r"\b(?:someone|somebody|a\s+(?:man|woman|guy|lady|person|caller|company))\s+(?:has\s+|had\s+|just\s+)?(?:rang|rung|called|"
        r"phoned|texted|messaged|e-?mailed|wrote|came\s+to\s+(?:the|my|our)\s+(?:door|house|home)|knocked)\b[^.?!\n]{0,40}\b(?:saying|"
        r"claiming|said|says|told\s+(?:me|us)|asking|asked|demanding|threatening)\b[^.?!\n]{0,120}\b(?:pay|paid|payment|card|bank|"
        r"details|password|pin|code|cash|£|\$|€)",
        # "hacked", "a hacker", "tried to hack into it"; not a hack (a ride out, a trick) booked or shared
        r"\b(?:hack(?:ed|er|ers)|(?<=to\s)hack|hack(?=\s+(?:into|in\s+to|my|our|the\s+account|accounts?))|compromised|unauthori[sz]ed|phish(?:ing|ed)?|scam(?:med|mer|mers)?|"
        r"fraud(?:ulent|sters?)?(?!\s+(?:scare|alert|prevention|check|department|team))|identity\s+theft|impersonat\w*|account\s+takeover|sim[-\s]swap\w*)\b",
        r"\bsuspicious\s+(?:log-?ins?|sign-?ins?|activity|e-?mails?|texts?|sms|messages?|calls?|links?|"
        r"transactions?|payments?|charges?|orders?|bookings?|access)\b",
        r"\bsomeone\s+(?:else\s+)?(?:has\s+|had\s+|have\s+|is\s+|was\s+)?(?:logged|signed|got\s+into|gained|"
        r"accessed|changed|used|using|ordered|booked|taken\s+over|added|opened)\b",
        r"\b(?:key|password|token|credentials?|secret)s?\b[^.\n]{0,50}\b(?:leaked|exposed|published|pushed|"
        r"stolen|public)\b",
        r"\b(?:leaked|exposed|stolen)\b[^.\n]{0,30}\b(?:key|password|token|credentials?|secret|card)s?\b",
        # a phishing link followed: clicked, then gave a password or card
        r"\bclicked\b[^.\n]{0,60}\b(?:typed|entered|put|gave|filled)\s+(?:in\s+)?(?:my|our|the)\s+(?:\w+\s+)?(?:password|passcode|pin|"
        r"login|log-?in\s+details|credentials|card\s+(?:details|number)|bank\s+details)\b[^.\n]{0,40}\b(?:before|then|and\s+then|"
        r"only\s+then)\s+(?:i|we)\s+(?:realised|realized|noticed|saw)\b",
        r"\b(?:'s|is|was|are|were)\s*(?:n[o']?t|\s+not)\s+(?:my|our|his|her|their)\s+(?:bank|account|card|e-?mail|phone|number|"
        r"address|payment|order|booking|login|device|signature)s?\b",
        r"\b(?:new|unknown|unrecogni[sz]ed|strange|unusual)\s+(?:log[-\s]?in|sign[-\s]?in|device|session)s?\s+"
        r"(?:to\s+(?:my|our|the)\s+(?:[\w-]+\s+){0,2}?account\s+)?(?:from|in|on|at)\b",
        r"\b(?:is|was|are|were)\s+(?:this|that|it|these|those)\s+(?:[\w-]+\s+){0,2}?(?:really\s+|actually\s+)?"
        r"(?:from|sent\s+by)\s+(?:you|your)\b",
        r"\bfake\s+(?:e-?mails?|texts?|sms|site|website|invoices?|pages?|calls?|messages?|letters?|listings?|adverts?|"
        r"ads?|advertisements?|profiles?|accounts?|sellers?|landlords?|agents?|offers?|certificates?|documents?|stickers?)\b|"
        r"\b(?:may|might|could)\s+be\s+(?:a\s+)?(?:fake|forged|forgery|counterfeit)\b|\bforged\b|\bforgery\b",
        # "a company that I've never heard of"; "was that sticker yours?"
        r"\bthat\s+(?:i|we)(?:'ve|\s+have|\s+had)?\s+never\s+(?:even\s+)?heard\s+of\b|\b(?:is|was|are|were)\s+(?:he|she|they|that|this|"
        r"these|those|it)\s+(?:[\w-]+\s+){0,2}?(?:really\s+|actually\s+)?(?:yours|one\s+of\s+yours)\s*\?",
        r"\b(?:dodgy|shady|sketchy|fishy)\b|\btoo\s+good\s+to\s+be\s+true\b",
        r"\b(?:pretend(?:s|ed|ing)?|claim(?:s|ed|ing)?)\s+to\s+be\s+(?:from\s+)?(?:you|your)\b",
        # money that went to an account the customer does not own
        r"\b(?:paid|sent|went|transferred)\s+(?:in)?to\s+(?:an?|some|another|the\s+wrong|someone\s+else's)\s+"
        r"(?:\w+\s+){0,2}?account\s+(?:ending|number|i\s+(?:don't|do\s+not)|that\s+(?:isn't|is\s+not))\b",
        r"\b(?:e-?mail(?:\s+address)?|phone\s+number|number|address|card|device|bank\s+account|login)\s+(?:\w+\s+){0,4}?(?:that|which)\s+"
        r"(?:isn't|is\s+not|wasn't|was\s+not|aren't|are\s+not)\s+(?:mine|ours)\b|\b(?:e-?mail(?:\s+address)?|phone\s+number|"
        r"mobile\s+number|card|bank\s+account|login|device)\s+on\s+(?:my|our|the)\s+(?:account|profile)\s+(?:isn't|is\s+not|"
        r"wasn't|was\s+not)\s+(?:mine|ours)\b",
        r"\b(?:account|card)\s+ending\s+(?:in\s+)?\d+\b[^\n]{0,80}?\b(?:(?:i|we)\s+(?:don't|do\s+not|never)\s+(?:have|had|own)|"
        r"(?:isn't|is\s+not|not)\s+(?:mine|ours))\b",
        # details on the account that are not the customer's ("the email address on it isn't mine anymore", "is one
        # I've never seen"), a stranger's name on it, a change nobody asked for
        r"\b(?:e-?mail(?:\s+address)?|phone\s+number|mobile\s+number|name|address|card|bank\s+account|login|device)\s+on\s+"
        r"(?:it|there|my\s+\w+\s+account|my\s+\w+\s+profile|my\s+ticket|my\s+booking)\s+(?:isn't|is\s+not|wasn't|was\s+not)\s+"
        r"(?:mine|ours)\b|\b(?:e-?mail(?:\s+address)?|phone\s+number|name|address|card)\s+on\s+(?:my|our|the)\s+(?:\w+\s+)?"
        r"(?:account|profile|ticket|booking)\s+(?:is|was)\s+(?:now\s+)?(?:one|someone|somebody|some\s+\w+)\s+(?:i|we)(?:'ve|\s+have)?\s+"
        r"(?:never\s+(?:seen|heard\s+of)|(?:don't|do\s+not)\s+(?:know|recognise|recognize))\b",
        r"\b(?:i|we)(?:'ve|\s+have)?\s+never\s+(?:did|done|made|asked\s+for|requested)\s+(?:a|any|that|this|the)\s+(?:\w+\s+)?"
        r"change\b|\b(?:i|we)\s+(?:don't|do\s+not)\s+know\s+who\s+(?:that|this|he|she|they)\s+(?:is|are)\b",
        r"\b(?:i|we)\s+(?:live|lived|am|are)\s+in\s+\w+(?:\s+\w+)?\s+and\s+(?:have\s+|'ve\s+)?never\s+(?:even\s+)?(?:been|lived|stayed)"
        r"\s+(?:to|in|at)\b",
    ),
    _kind(
        "danger to someone's health or safety",
        "safety safe danger dangerous emergency injury injured hazard hazardous fire gas smoke leak leaking "
        "health medical clinical symptom symptoms harm hurt risk accident unsafe crash hospital doctor nurse "
        "medicine reaction",
        r"\b(?:smell(?:s|ing|ed)?\s+(?:of\s+)?gas|gas\s+(?:leak|smell)|carbon\s+monoxide|co\s+(?:alarm|detector))\b",
        r"\b(?:(?<!don't\s)(?<!not\s)(?<!never\s)(?<!who\s)(?<!i\s)(?<!you\s)(?<!we\s)(?<!they\s)smoke(?!\s+(?:alarms?|detectors?|free))|smoking\s+(?:from|out)|fumes|sparks?|sparking|burning\s+smell|"
        r"smell(?:s|ed)?\s+(?:of|like)\s+(?:burning|burnt|something\s+burning)|"
        r"(?:on|caught|catch|catching)\s+fire|fire\s+(?:broke|started)|flames|explo(?:ded|sion)|"
        r"electric(?:al)?\s+shock|electrocut\w*)\b",
        # a shock in everyday words: a jolt or a zap from something the customer touched
        r"\b(?:jolt|zap|shock|tingl\w*)\s+(?:going\s+|running\s+|shooting\s+|went\s+|ran\s+|shot\s+)?(?:up|through|in|into)\s+"
        r"(?:my|his|her|their)\s+(?:arm|hand|body|fingers?|wrist)\b|"
        r"\b(?:jolt|zap(?:ped)?|shock|tingl\w*)\b[^.\n]{0,30}\b(?:from|off|touching)\s+(?:the|a|my|our|its|one\s+of\s+the)\s+"
        r"(?:\w+\s+){0,2}?(?:handle|charger|socket|plug|cable|lead|switch|tap|appliance|connector|casing|metal|railing)s?\b",
        r"\b(?:sockets?|plugs?|switch(?:es)?|outlets?|wires?|wiring|cables?|fuse\s?box(?:es)?|heaters?|chargers?|"
        r"inverters?|isolators?|batter(?:y|ies)|meters?|consumer\s+units?|boilers?|appliances?|lamps?|lights?|bulbs?)\b"
        r"[^.\n]{0,60}\b(?:crackl\w*|(?:blue|bright|small|big)\s+flash\w*|scorch\w*|melt(?:ed|ing)|burnt|"
        r"blackened|went\s+black|was\s+black|(?:gone|turned|going)\s+(?:brown|black)|(?:very|really|extremely|too)\s+"
        r"hot(?:\s+to\s+(?:the\s+)?touch)?)\b",
        # a battery swelling; brakes that do not stop the vehicle
        r"\b(?:batter(?:y|ies)|cells?|power\s+banks?)\b[^.\n]{0,80}\b(?:puffed\s+up|puffing\s+up|swollen|swelling|bulg(?:ing|ed|es)|"
        r"ballooned)\b|\b(?:puffed|puffing)\s+up\b|\bbulg(?:ing|ed|es)\b",
        r"\bbrakes?(?!\s+(?:lights?|pads?|fluid))\b[^.\n]{0,60}\b(?:failed|gave\s+(?:out|way)|did\s+(?:almost\s+|virtually\s+)?nothing|"
        r"(?:don't|doesn't|didn't|won't|wouldn't|do\s+not|does\s+not|did\s+not)\s+(?:work|stop|bite)|stopped\s+working|"
        r"went\s+(?:to\s+the\s+bar|all\s+the\s+way))|\b(?:couldn't|could\s+not|can't|cannot|unable\s+to)\s+stop\s+(?:it|the\s+\w+)\b",
        # the electrics cutting out again and again
        r"\b(?:trip\s+switch|(?:circuit\s+)?breakers?|fuses?|rcds?|main\s+switch|consumer\s+unit|fuse\s?box|electrics)\b"
        r"[^.\n]{0,40}\b(?:clicks?\s+off|clicked\s+off|keeps?\s+(?:tripping|going\s+off|switching\s+off|cutting\s+out|"
        r"blowing)|tripp(?:ed|ing)\s+(?:again|every|each|several|\w+\s+times))",
        r"\b(?:open|raw|infected|weeping|deep|nasty)\s+wounds?\b|\bwounds?\s+(?:has\s+|had\s+|is\s+)?"
        r"(?:opened|open|infected|bleeding|weeping)\b",
        r"\b(?:injur(?:ed|y|ies)|hurt\s+(?:my|his|her|their|him|her|them)\w*|(?:was|got|were)\s+hurt|bleeding|"
        r"unconscious|(?:i|he|she|they|someone|somebody|(?:my|our|a|the)\s+\w+)\s+(?:just\s+)?collapsed|fainted|seizure|overdose|allergic\s+reaction|anaphyla\w*|ambulance|"
        r"emergency\s+room|a\s*&\s*e|hospitali[sz]ed|poison(?:ed|ing)?)\b",
        r"\b(?:needed|need|had|got|have|having)\s+(?:\w+\s+)?stitches\b|\b(?:walk-?in|urgent\s+care|minor\s+injur\w*)\s+"
        r"(?:centre|center|clinic|unit)s?\b|\b(?:cut|burnt|burned|broke|fractured|sprained)\s+(?:my|his|her|their)\s+"
        r"(?:hand|finger|thumb|arm|wrist|leg|ankle|foot|knee|head|back|face)\b",
        # an injury by its treatment or its landing: "it's in a splint now", "his arm is in plaster", "on crutches"
        r"\b(?:it|he|she|they|arm|wrist|leg|ankle|foot|hand|finger|thumb|elbow|knee|shoulder)\s*(?:'s|'re|\s+is|\s+are|\s+was|"
        r"\s+were|\s+has\s+been|\s+have\s+been)\s+(?:now\s+|still\s+)?in\s+(?:a\s+)?(?:splint|plaster|sling|brace|cast)\b|"
        r"\bon\s+crutches\b|\blanded\s+(?:badly\s+|hard\s+)?on\s+(?:my|his|her|their)\s+(?:wrist|arm|head|back|knee|ankle|"
        r"shoulder|elbow|hip|face|neck)\b",
        r"\b(?:chest\s+pains?|(?:can't|cannot|could\s+not|couldn't|struggling\s+to)\s+breathe|short(?:ness)?\s+of\s+"
        r"breath|dizz(?:y|iness)|swollen|swelling|vomit\w*|side[-\s]effects?|suicid\w*|self[-\s]harm)\b",
        r"\b(?:food\s+poisoning|(?:was|were|got|been|became|fell|felt)\s+(?:really\s+|very\s+|so\s+)?(?:ill|sick|unwell)|"
        r"threw\s+up|throwing\s+up|diarrh\w*|stomach\s+(?:bug|cramps?|ache|pains?)|allerg(?:y|ies|ic|ens?)|"
        r"epi-?pens?|adrenaline\s+pens?)\b",
        # ill in the words people use for it: a day on the bathroom floor, nothing kept down
        r"\bspent\s+(?:the\s+|all\s+|most\s+of\s+the\s+)?(?:whole\s+|entire\s+)?(?:of\s+)?(?:night|day|evening|"
        r"morning|afternoon|weekend|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\s+(?:\w+\s+)?(?:on|in|over|hugging)\s+the\s+"
        r"(?:bathroom\s+floor|toilet|loo)\b|\b(?:couldn't|could\s+not|can't|cannot|unable\s+to)\s+keep\s+(?:anything|any\s+"
        r"food|food|water|a\s+thing)\s+down\b|\bbeing\s+sick\b(?!\s+of)",
        r"\bshould\s+(?:i|we|she|he)\s+(?:still\s+)?(?:take|stop|keep\s+taking|double|skip|be\s+worried)\b",
        # or has or is given, with the medicine named in the same sentence
        r"\bshould\s+(?:i|we|she|he|they)\s+(?:still\s+)?(?:have|be\s+given|give\s+(?:her|him|them|it)|continue(?:\s+with)?)\b"
        r"[^.?!\n]{0,80}\b(?:antibiotics?|medicines?|medication|meds|tablets?|pills?|painkillers?|steroids?|insulin|inhalers?|"
        r"doses?|eye\s+drops|ear\s+drops)\b",
        r"\b(?:unsafe|hazardous|leaking\s+(?:chemical|acid|liquid|fluid|batter\w+)|spill(?:ed|age)?)\b",
        r"\b(?:violent|violence|assault(?:ed)?|attacked)\b",
        r"\b(?:needles|syringes?|hypodermic|used\s+sharps)\b",
        r"\b(?:big|nasty|bad|deep|huge)\s+(?:graze|bruise|gash|bump\s+on\s+(?:his|her|their|my)\s+head)\b|\bgrazed\s+(?:his|her|their|my)\b|"
        r"\b(?:hit|banged|bumped|cracked|knocked)\s+(?:her|his|my|their|its)\s+head\b|\b(?:caught|trapped)\s+(?:her|his|my|their)\s+"
        r"(?:foot|feet|finger|fingers|hand|leg)\b|\bthrowing\s+(?:stones|rocks|bricks|bottles)\s+at\b|"
        r"\b(?:hurt|injured|cut|bumped|banged)\s+it\s+(?:falling|when\s+(?:he|she|they|i)\s+fell)\b|\bskip\s+(?:this|that|the|a|her|his|my)\s+"
        r"(?:one|dose|tablet|pill|medicine|injection)\b",
        # sudden changes in sight, a red and painful eye
        r"\b(?:can't|cannot|can\s+not|couldn't|could\s+not)\s+see\s+(?:out\s+of|with|from)\s+(?:my|his|her|their)\s+(?:left\s+|right\s+)?eyes?\b|"
        r"\b(?:lost|losing|loss\s+of)\s+(?:the\s+)?(?:sight|vision)\b|\bflashes\b[^.\n]{0,40}\beyes?\b|\bfloaters\b|"
        r"\b(?:my|his|her|their)\s+(?:left\s+|right\s+)?eyes?\s+(?:is|are|has\s+been|have\s+been|went|got|became)\s+(?:\w+\s+)?"
        r"(?:red|sore|painful|swollen|bloodshot|bleeding)\b",
        # sudden loss of hearing, the room spinning
        r"\b(?:can't|cannot|can\s+not|couldn't|could\s+not)\s+hear\s+(?:anything|a\s+thing)\s+(?:at\s+all\s+)?(?:in|out\s+of|"
        r"from|with)\s+(?:my|his|her|their)\s+(?:left\s+|right\s+)?ear\b|\bsudden(?:ly)?\s+(?:hearing\s+loss|deaf\w*|lost\s+"
        r"(?:the\s+|my\s+|his\s+|her\s+)?hearing)\b|\b(?:the\s+)?room\s+(?:was|is|kept|keeps|started|felt\s+like\s+it\s+was)\s+"
        r"(?:spinning|moving|going\s+round)\b|\bvertigo\b",
        # someone who may harm themselves, in the words people use for it
        r"\b(?:better\s+off\s+without\s+me|end\s+it\s+all|kill\s+myself|take\s+my\s+own\s+life|want\s+to\s+die|"
        r"(?:don't|do\s+not|dont)\s+want\s+to\s+(?:be\s+here|live|wake\s+up)\s+any\s?more|no\s+(?:reason|point)\s+(?:to|in)\s+"
        r"(?:live|living|going\s+on)|(?:got|kept|hidden|hid|hoarded|stockpiled)\s+(?:\w+\s+){0,2}?(?:tablets|pills)\s+"
        r"(?:\w+\s+){0,5}?(?:saved\s+up|hidden|put\s+away)|(?:saved|saving|stockpiled|stockpiling)\s+up\s+(?:my\s+|the\s+|"
        r"some\s+)?(?:tablets|pills)|(?:started|been|am|i'm|keep)\s+cutting\s+(?:again|myself)|hurting\s+myself)\b|"
        r"\b(?:deep|nasty|bad)\s+cuts\b|\bcuts\s+on\s+(?:my|his|her|their)\s+(?:arms?|legs?|wrists?|thighs?)\b",
        # skin that reacted: a neck gone red and itchy, lips swollen (not a face gone red: that is embarrassment)
        r"\b(?:my|his|her|their)\s+(?:skin|scalp|neck|ears?|forehead|eyelids?|hands?|arms?|legs?|fingers?|nail\s+beds?|hairline)\s+"
        r"(?:is|are|was|were|has\s+been|have\s+been|went|got|became|turned|feels?|felt|looks?|looked)\s+(?:\w+\s+)?(?:red|itchy|"
        r"swollen|sore|raw|blistered|blistering|burning|bleeding|puffy|weeping|numb)\b|\b(?:my|his|her|their)\s+(?:face|lips?|"
        r"tongue|throat|cheeks?)\s+(?:is|are|was|were|has\s+been|have\s+been|went|got|became|feels?|felt)\s+(?:\w+\s+)?(?:swollen|"
        r"puffy|blistered|burning|numb|tight)\b|\b(?:skin|mild|slight|small)\s+reaction\b|\b(?:red|itchy|raised|sore|angry|burning|"
        r"weeping)\s+(?:and\s+\w+\s+|\w+\s+)?(?:patches|rash(?:es)?|spots|bumps|welts|blotches|lumps)\s+(?:on|all\s+over)\s+"
        r"(?:the\s+backs?\s+of\s+|the\s+fronts?\s+of\s+|both\s+)?(?:my|his|her|their|its)\b|\b(?:come|came|broke|broken|"
        r"breaking)\s+out\s+in\s+(?:a\s+)?(?:rash|hives|spots|blisters)\b",
        # a burn, or something that got too hot to hold
        r"\bburn\s+marks?\b|\b(?:phones?|batter(?:y|ies)|chargers?|devices?|tablets?|laptops?|plugs?|cables?|"
        r"leads?|cases?)\b[^.\n]{0,30}\b(?:was|is|were|are|got|gets|went)\s+(?:\w+\s+)?(?:boiling|scalding|red[-\s]hot|too\s+hot\s+"
        r"to\s+(?:hold|touch))\b",
        # an animal or a child shut in a car in the heat
        r"\b(?:dogs?|pupp(?:y|ies)|cats?|child(?:ren)?|baby|toddler|kids?)\s+(?:left\s+|locked\s+|shut\s+)?(?:inside|in\s+(?:a|the|"
        rf"his|her|their|that|this)\s+(?:\w+\s+)?(?:car|van))\b{_IN_THE_HEAT}|\b(?:left|locked|shut|kept)\s+in\s+(?:a|the|his|"
        rf"her|their|that|this|our|my)\s+(?:\w+\s+)?(?:car|van|vehicle)\b{_IN_THE_HEAT}",
        # someone who may be ill or hurt and cannot be reached: not seen for days, not answering, a fall feared
        r"\b(?:has|have|had)\s*(?:n't|\s+not)\s+been\s+seen\s+(?:for|since|in)\b|\bnobody\s+has\s+seen\s+(?:him|her)\b",
        r"\b(?:he|she)(?:'s|\s+is|\s+was|\s+has\s+been)\s*(?:n't|\s+not)\s+answering\s+the\s+door\b|\b(?:he|she)(?:'s|\s+is|\s+was|"
        r"\s+has\s+been|\s+has|\s+had)\s*(?:n't|\s+not)\s+(?:answering|answered|replied\s+to)\b[^.,;\n]{0,40}\b(?:since|for\s+(?:\w+\s+)?(?:days|"
        r"weeks)|in\s+(?:\w+\s+)?days)\b|\bcheck\s+(?:on\s+(?:him|her)\b|(?:that\s+)?(?:he|she)(?:'s|\s+is)\s+(?:alright|all\s+right|ok|okay|"
        r"safe)\b)",
        r"\bworried\s+(?:that\s+)?(?:he|she|they)(?:'s|'ve|\s+has|\s+have|\s+may\s+have|\s+might\s+have)\s+(?:had\s+a\s+fall|"
        r"fallen|been\s+taken\s+ill)\b|\bcurtains\s+(?:have\s+been\s+|are\s+|were\s+|stay\s+|stayed\s+)(?:\w+\s+)?(?:shut|closed|"
        r"drawn)\b|\bcalling\s+(?:out\s+)?for\s+help\b",
        # "fell through" as a floor gives way, not as a deal or a holiday does
        r"\b(?:(?:fell|fallen|falling|tripped|slipped)\s+(?:down|over|off|on|from)|(?:fell|fallen|falling)\s+through\s+(?:the|a|an)\s+"
        r"(?:\w+\s+)?(?:floor|floorboards|ceiling|roof|ice|gap|hole|boards|decking|grate|grating|hatch|trapdoor|glass|window)|"
        r"(?:exposed|bare|live)\s+wires?|"
        r"broken\s+glass|could\s+(?:fall|be\s+hurt|get\s+hurt|hurt\s+someone|injure))\b",
        r"\b(?:railings?|balcony|stairs?|steps?|handrails?|banisters?|ceiling|floor|balustrade|decking)\b[^.\n]{0,60}"
        r"\b(?:is|are|was|were|came|has\s+come|feels?|has\s+been|have\s+been|had\s+been|seems?|looks?)\s+(?:\w+\s+)?(?:loose|"
        r"unstable|collapsing|rotten|giving\s+way|wobbly)\b|\b(?:railings?|balcony|handrails?|banisters?|balustrade)\b[^.\n]{0,60}"
        r"\b(?:wobbles|wobbling|moves\s+when|gives\s+when)\b",
        # a ceiling that water has made soft or sagging (it can come down; a leak alone is a repair)
        r"\bceilings?\b[^\n]{0,160}?\b(?:sagging|bulging|bowing|feels?\s+soft|gone\s+soft)\b",
        r"\b(?:loose|unstable|collaps\w*|cracked|rotten)\s+(?:\w+\s+){0,3}?(?:railings?|balcony|stairs?|steps?|"
        r"handrails?|banisters?|ceiling|floor|glass|panel|balustrade|decking)\b",
        # a home that cannot be made secure tonight: a door or window that no longer shuts or locks
        r"\b(?:front|back|side|patio|main|outside|entrance|door|window)s?\b[^.\n]{0,50}\b(?:won't|will\s+not|wont|wouldn't|would\s+not|"
        r"doesn't|does\s+not|can't|cannot|can\s+not|no\s+longer)\s+(?:shut|close|lock|be\s+locked|be\s+secured)\b",
        r"\b(?:can't|cannot|can\s+not|unable\s+to)\s+(?:lock|secure|shut)\s+(?:the|my|our)\s+(?:front\s+|back\s+|"
        r"side\s+|patio\s+)?(?:door|window|house|home|flat|property)s?\b",
        r"\b(?:(?:don't|do\s+not|can't|cannot)\s+(?:really\s+)?(?:want\s+to\s+|feel\s+safe\s+)?(?:stay|sleep)(?:ing)?|"
        r"(?:not|isn't|is\s+not)\s+safe\s+to\s+(?:stay|sleep))\s+(?:here|there|in\s+(?:the|our|my)\s+\w+)\s+tonight\b",
        unsaid=(
            r"\b(?:nobody|no\s*-?\s*one|none\s+of\s+us|no\s+people|no\s+person|everyone|everybody)\s+(?:was|were|got|"
            r"has\s+been|have\s+been|is|are)\s+(?:\w+\s+)?(?:hurt|injured|harmed|ok|okay|fine|safe)\b",
            r"\b(?:no|without|without\s+any)\s+(?:one\s+)?(?:injur(?:y|ies)|hurt|harm)\b",
            r"\b(?:wasn't|was\s+not|weren't|were\s+not|not|un)\s*(?:hurt|injured|harmed)\b",
        ),
    ),
    _kind(
        "threats or harassment",
        "threat threats threaten threatening harassment harass abuse abusive intimidation blackmail extortion "
        "stalking doxxing nuisance malicious offensive safety",
        r"\b(?:threaten(?:s|ed|ing)?\s+(?:me|us|to|my|our)|threats?\s+(?:to|against|from)|harass(?:ed|ing|ment)?|"
        r"blackmail\w*|extort\w*|stalk(?:ed|ing|er)?|dox(?:x)?(?:ed|ing)?|abusive\s+(?:calls?|messages?|texts?|"
        r"language|behaviou?r)|(?:i|we)\s*(?:am|are|feel|felt|was|were|'m|m|'re)\s+(?:really\s+|very\s+|so\s+)?(?:scared|frightened|"
        r"unsafe|intimidated))\b",
        # afraid, but not the polite "I'm afraid (that) ..." / "still waiting, I'm afraid": fear felt, or of someone
        r"\b(?:i|we)\s*(?:feel|felt|(?:am|are|'m|m|'re|was|were)\s+(?:really|very|so|genuinely|now|actually|quite|too))\s+"
        r"afraid\b|\b(?:i|we)\s*(?:am|are|'m|m|'re|was|were)\s+afraid\s+(?:of\s+(?:him|her|them|what|going|walking|leaving|being)\b|"
        r"for\s+(?:my|our)\s+(?:safety|life|lives|family|kids|children|son|daughter)|to\s+(?:go|come|leave|walk|stay|sleep|be|"
        r"open|answer|use)\b)",
        # shouting or swearing at someone
        r"\b(?:shout(?:s|ed|ing)?|swear(?:s|ing)?|swore|scream(?:s|ed|ing)?|yell(?:s|ed|ing)?)\s+(?:and\s+\w+\s+)?at\s+(?:me|us|him|her|them|"
        r"(?:my|the|your|our|a|an|his|her|their)\s+(?:\w+\s+)?(?:drivers?|staff|kids|children|child|man|woman|lady|guy|boy|girl|"
        r"customers?|people|clients?|colleagues?|co-?workers?|juniors?|apprentices?|trainees?|assistants?|employees?|players?|"
        r"crew|engineers?|receptionists?|members?|residents?|tenants?|patients?|pupils?|students?|volunteers?|cleaners?|nurses?|carers?|"
        r"teachers?|officers?|wardens?|attendants?|riders?|passengers?|guests?|neighbou?rs?|son|daughter|wife|husband|mum|dad|mother|"
        r"father|partner|team|workers?|referees?|refs?|umpires?|officials?|coach(?:es)?|stewards?|hosts?|instructors?))\b",
        # a threat made the way people make it
        r"\b(?:you'll|you\s+will|he'll|he\s+will|they'll|they\s+will)\s+(?:regret|pay\s+for)\s+(?:this|that|it)\b",
        # unwanted contact that does not stop, and someone waiting where the customer is
        r"\b(?:keeps?|kept)\s+(?:on\s+)?(?:messaging|texting|calling|ringing|following|contacting|touching|"
        r"turning\s+up)\s+(?:me|us|her|him)\b|\b(?:sends?|sending|sent)\s+me\s+(?:\w+\s+)?messages\s+(?:every|each|all)\b|"
        r"\b(?:asked|told)\s+(?:him|her|them)\s+to\s+stop\b",
        r"\b(?:standing|waiting|hanging\s+around|lurking)\s+(?:next\s+to|by|outside|near|at)\s+(?:my|our)\s+(?:car|house|"
        r"home|door|flat|bike)\b|\bfound\s+me\s+on\s+(?:social\s+media|instagram|facebook|tiktok|linkedin)\b",
    ),
    _kind(
        "someone's dishonesty: cheating, plagiarism or a false claim",
        "dishonest dishonesty cheating cheat plagiarism plagiarised plagiarized plagiarise plagiarize collusion "
        "misconduct integrity fraud fraudulent false fake tip-offs",
        r"\b(?:plagiari[sz]\w*|collu(?:sion|ding|ded)|cheat(?:ing|ed)\s+(?:in|on|during|at)\s+(?:the|an|their|his|her)\s+"
        r"(?:exams?|tests?|assessments?|quiz\w*)|copied\s+(?:each\s+other|from\s+(?:each\s+other|another|someone)))\b",
        r"\b(?:handed|turned|sent|submitted)\s+in\s+(?:nearly|almost|exactly|practically)\s+the\s+same\b",
        r"\b(?:false|fake|bogus|dishonest|made[-\s]up|fraudulent)\s+(?:insurance\s+)?(?:claims?|reviews?)\b|"
        r"\b(?:review|claim)s?\s+(?:is|was|are|were)\s+(?:\w+\s+)?(?:false|fake|made[-\s]up|untrue|lies)\b",
        r"\b(?:they|he|she)(?:'re|'s|\s+are|\s+is|\s+were|\s+was)\s+(?:going|planning)\s+to\s+(?:say|claim|pretend)\b",
        r"\b(?:don't|do\s+not)\s+want\s+to\s+(?:give|leave|tell\s+you)\s+my\s+name\b",
        r"\bclock(?:s|ed|ing)?\s+(?:in|on|out)\s+(?:\w+\s+){0,4}?for\s+(?:his|her|their|someone|somebody|another|"
        r"other\s+people|a\s+(?:friend|mate|colleague|relative|cousin))\b|\bbuddy\s+punch\w*",
    ),
    _kind(
        "a collision or a road accident",
        "accident accidents collision collisions crash crashes crashed breakdown breakdowns roadside incident "
        "incidents vehicle vehicles driving",
        r"\b(?:crash(?:ed|es)?\s+(?:into|in\s+to)|collided|collisions?|rear[-\s]ended|write[-\s]off|written\s+off|"
        r"(?:was|were|been|had)\s+(?:in\s+)?an?\s+(?:\w+\s+)?(?:accident|crash|bump|prang)|"
        r"(?:hit|clipped|bumped|scraped|reversed\s+into|drove\s+into|ran\s+into)\s+(?:into\s+)?(?:a|an|the|another|some|"
        r"someone's|my|our|his|her|their)\s+(?:\w+\s+){0,2}?(?:car|cars|post|gate-?posts?|wall|bollard|pillar|vehicle|van|"
        r"lorry|truck|bus|cyclist|bike|pedestrian|gate|barrier|kerb|curb|lamp\s*post|tree|fence|column|sign|wing\s+mirror|"
        r"garage|porch|bridge))\b",
    ),
    _kind(
        "neglect or cruelty",
        "welfare neglect neglected cruelty cruel abuse abused mistreatment mistreated safeguarding vulnerable harm "
        "animal animals",
        r"\b(?:neglect(?:ed|ing|ful)?|cruel(?:ty)?|mistreat\w*|ill[-\s]treat\w*|malnourished|emaciated|starv(?:ed|ing)|"
        r"(?:smack(?:s|ed|ing)?|slap(?:s|ped|ping)?|pinch(?:es|ed)?|shov(?:es|ed))\s+(?:her|him|them|my\s+(?:son|daughter|child|"
        r"kid|baby|boy|girl|mum|mother|dad|father))\b|put(?:s|ting)?\s+(?:her|him|them)\s+in\s+(?:a|the)\s+(?:dark|locked)\s+"
        r"room|(?:left|locked|kept)\s+(?:\w+\s+){0,2}?(?:alone|outside|in\s+(?:a|the)\s+(?:car|cage|crate|shed))\s+"
        r"(?:(?:in|on)\s+(?:his|her|their|the|a)\s+(?:own\s+)?\w+\s+)?(?:all|for\s+(?:\w+\s+)?(?:days|hours|weeks))|grown\s+into\s+"
        r"(?:his|her|its|their)\s+\w+)\b",
        # care not given: a water jug left empty, sheets or pads not changed
        r"\b(?:water\s+)?(?:jug|bowl)\s+was\s+(?:completely\s+|bone\s+)?(?:empty|dry)\b|\b(?:sheets|bedding|bed|pads?|nappy|nappies|"
        r"dressings?|incontinence\s+pads?)\s+(?:hadn't|had\s+not|haven't|have\s+not|wasn't|weren't|was\s+not|were\s+not)\s+been\s+"
        r"changed\b",
        r"\b(?:took|taking|takes|take|taken)\s+(?:photos|pictures|pics|videos)\s+of\s+(?:the\s+)?(?:kids|children|child|boys|girls|pupils|"
        r"my\s+(?:son|daughter|child))\b[^.\n]{0,80}\b(?:changing|toilets?|bathroom|own\s+phone|personal\s+phone)\b|\basked\s+(?:him|her|"
        r"them|my\s+(?:son|daughter|child|boy|girl)|\w+)\s+(?:\(\s*(?:aged\s+)?\d{1,2}\s*\)\s+)?(?:(?:and|&)\s+(?:his|her|their|my)\s+(?:\w+\s+){0,2}?)?for\s+(?:his|her|"
        r"their)\s+(?:snapchat|instagram|insta|tiktok|whatsapp|socials)\b",
    ),
    _kind(
        "a complaint: dissatisfaction with the service, or someone senior asked for",
        "complaint complaints complain complaining dissatisfied unhappy escalation escalate formal grievance "
        "manager senior poor",
        r"\b(?:someone|somebody)\s+(?:senior|(?:more\s+)?high(?:er)?(?:\s+up)?\s+in\s+the\s+company)\b|\b(?:speak|talk)\s+(?:to|with)\s+"
        r"(?:a|the|your)\s+(?:manager|supervisor|director)\b",
        r"\bformal(?:ly)?\s+complain\w*|\b(?:make|making|raise|raising|lodge|lodging|file|filing|submit|submitting)\s+"
        r"an?\s+(?:formal\s+|official\s+)?complaint\b|\b(?:i|we)\s+(?:want|wish|would\s+like|'d\s+like)\s+to\s+"
        r"complain\b|\bwhat\s+went\s+wrong\b",
        r"\b(?:(?:is|was|were|are)(?:\s+not|n't)|not)\s+(?:nearly\s+|remotely\s+)?(?:good\s+enough|acceptable)\b|\bnot\s+what\s+(?:we|i)\s+paid\s+for\b|"
        r"\b(?:so|very|really|extremely|deeply|bitterly|hugely|incredibly)\s+disappointed\b|\b(?:unacceptable|appalling|"
        r"disgraceful|disgusted|shocking\s+(?:service|treatment|experience))\b|\b(?:i'm|im|i\s+am|we're|we\s+are)\s+(?:so\s+|really\s+|"
        r"totally\s+|completely\s+|getting\s+)?(?:fed\s+up|sick\s+and\s+tired)\b",
        unsaid=(
            r"\b(?:don't|dont|do\s+not|not)\s+(?:want|wish|trying|looking|meaning)\s+to\s+(?:make|raise|lodge|file|submit|be\s+"
            r"making)\s+an?\s+(?:formal\s+|official\s+)?complaint\b|\b(?:this|it)\s+(?:is\s+not|isn't|is\s+n't)\s+an?\s+"
            r"(?:formal\s+)?complaint\b|\bnot\s+(?:a\s+)?complain(?:t|ing)\b",
        ),
    ),
    _kind(
        "financial hardship, or a customer who may be vulnerable",
        "hardship hardships afford affordable vulnerable vulnerability debt debts",
        r"\b(?:can't|cannot|can\s+not|couldn't|could\s+not)\s+afford\b|\bdon't\s+know\s+how\s+(?:i|we)(?:'ll|\s+will|\s+can|\s+am\s+going\s+to|"
        r"\s+are\s+going\s+to)\s+(?:pay|afford|manage|cope)\b|\bstruggling\s+(?:to\s+(?:pay|afford|make\s+ends\s+meet|keep\s+up)|"
        r"financially|with\s+(?:money|the\s+bills|bills|debts?))\b|\b(?:financial|money)\s+(?:hardship|difficult(?:y|ies)|worries|"
        r"problems)\b|\bnothing\s+left\s+(?:after|for|at\s+the\s+end)\b",
        r"\b(?:cut|reduced|halved)\s+(?:my|our|his|her)\s+hours\b|\b(?:my|our)\s+hours\s+(?:were|have\s+been|got|had\s+been)\s+"
        r"(?:cut|reduced|halved)\b|\b(?:lost|losing)\s+(?:my|his|her|our)\s+job\b|\b(?:made|been\s+made)\s+redundant\b|"
        r"\bdementia\b|\balzheimer\w*|\b(?:can't|cannot|doesn't|does\s+not)\s+remember\s+doing\b",
        # losing control of spending (only a category that covers hardship or vulnerability hears it)
        r"\b(?:things|it|(?:my\s+|his\s+|her\s+)?(?:spending|gambling|betting|borrowing))\s+(?:got|has\s+got|have\s+got|is\s+getting|"
        r"was\s+getting|went|has\s+gone|is)\s+(?:a\s+bit\s+|a\s+little\s+|completely\s+|totally\s+|way\s+)?out\s+of\s+(?:hand|control)\b|"
        r"\b(?:losing|lost)\s+control\s+(?:of|over)\s+(?:my\s+|his\s+|her\s+)?(?:spending|money|finances|gambling|betting)\b|"
        r"\bchasing\s+(?:my\s+|his\s+|her\s+)?losses\b|\b(?:can't|cannot|couldn't)\s+stop\s+(?:gambling|betting|spending)\b",
    ),
    _kind(
        "age-restricted goods handed to someone under age, or an age check not made",
        "underage minor minors alcohol age-restricted age verification proof 18",
        r"\bunder-?age\b|\b(?:sold|served|handed|gave|given|delivered|supplied|left)\s+(?:\w+\s+){0,4}?to\s+(?:a|my|our|his|her|"
        r"their)\s+(?:[1-9]|1[0-7]|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)[-\s]?(?:years?|yrs?)[-\s]?old\b",
        r"\b(?:my|our|his|her|their|a)\s+(?:[1-9]|1[0-7]|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)[-\s]?"
        r"(?:years?|yrs?)[-\s]?old\s+(?:\w+\s+){0,2}?(?:signed\s+for|was\s+(?:sold|served|given|handed)|bought|took\s+delivery)\b",
        r"\b(?:wasn't|was\s+not|weren't|were\s+not|never|nobody\s+was|no\s+one\s+was)\s+(?:even\s+)?asked\s+(?:for\s+|to\s+"
        r"show\s+)?(?:any\s+|his\s+|her\s+|their\s+|some\s+)?(?:id|identification|proof\s+of\s+age|age)\b",
        # adult content and a child in the same breath: "a film rated 18 started playing on my eight-year-old's profile"
        rf"\b(?:{_A_CHILD})\b[^?!]{{0,200}}?\b(?:{_ADULT_RATED})\b|\b(?:{_ADULT_RATED})\b[^?!]{{0,200}}?\b(?:{_A_CHILD})\b",
    ),
    _kind(
        "a theft, a break-in or an intruder",
        "theft thefts stolen steal stole thief thieves burglary burgled break-in intruder intruders trespass "
        "belongings robbery robbed cctv tailgating lock locks security",
        r"\b(?:stolen|stole|theft|thieves|thief|burgl\w*|broken\s+into|break-?ins?|robbed|robbery|pickpocket\w*|"
        r"intruders?|trespass\w*)\b",
        r"\b(?:someone|somebody)\b[^.\n]{0,80}\b(?:took|taken|stole|nicked|pinched)\s+(?:my|our|his|her|their|the|"
        r"two|three|four|both|all)\s+(?:\w+\s+){0,2}?(?:bikes?|bicycles?|cars?|vans?|phones?|wallets?|purses?|bags?|laptops?|"
        r"keys|tools|belongings|things|stuff|jewel\w*|parcels?|scooters?)\b",
        r"\b(?:break|broke|broken|smashed|forced|kicked\s+in)\s+(?:open\s+)?(?:the|my|our)\s+(?:door|lock|window|padlock|gate)s?\s+"
        r"(?:of|to|on|in)\s+(?:my|our|the)\s+(?:shed|garage|house|flat|car|van|office|unit|store|room|locker)\b",
        r"\b(?:was|were)\s*(?:not|n't)\s+(?:on|in|at|by)\s+(?:the|my|our)\s+\w+\s+any\s?more\b|\bsomeone\s+"
        r"(?:took|has\s+taken|had\s+taken)\b",
        r"\b(?:ring|rings|jewel\w*|necklace|bracelet|watch|cash|wallet|purse|earrings)\b[^.\n]{0,60}\b(?:went\s+missing|gone\s+"
        r"missing|(?:is|was|were|are|had|has|have)\s+(?:missing|gone(?!\s+(?:up|down|through|back|to|into|over|well)\b))|"
        r"disappeared|(?:was|were|is|are|isn't|aren't)\s*(?:not|n't)?\s+there\s+any\s?more)\b",
        # something that was there, and gone when they came back for it
        r"\bwhen\s+(?:i|we|she|he|they)\s+(?:(?:came|got|went|walked|popped|ran)\s+(?:back|down|home|out|outside|downstairs|"
        r"round|over)|returned)\b"
        # (not back to a page or an app: "when I went back to the app my booking was no longer there")
        r"(?![^.\n]{0,40}\b(?:page|site|app|website|link|basket|cart|screen|portal|account|inbox|e-?mail)\b)[^.\n]{0,40}\b"
        r"(?:(?:it|they|(?:the|my|our|his|her)\s+\w+)\s+(?:was|were)\s*(?:not|n't)\s+there\s+any\s?more|"
        r"(?:it|they|(?:the|my|our|his|her)\s+\w+)\s+(?:was|were)\s+no\s+longer\s+there|"
        r"(?:it|they|\w+'s(?:\s+and\s+\w+'s)?)\s+(?:was|were|had|'d)\s+(?:gone|disappeared|vanished)|"
        r"(?:both\s+)?(?:the|my|our|his|her)\s+"
        r"(?:bags?|parcels?|packages?|box|boxes|bikes?|bicycles?|scooters?|car|van|laptops?|phones?|tools|suitcases?|luggage|coat|"
        r"jacket|keys|delivery|wallets?|purses?|cash|money|cameras?|headphones|tablets?|passports?|handbags?|backpacks?|rucksacks?|"
        r"jewellery|jewelry|rings?|watch(?:es)?)\b[^.\n]{0,30}?\b(?:was|were|had|'d)\s+(?:gone|disappeared|vanished))\b",
        r"\b(?:came|walk(?:ed)?|slipped|got|followed)\s+(?:in|through)\s+(?:the\s+)?(?:[\w-]+\s+){0,3}?(?:right\s+|straight\s+|"
        r"just\s+|close\s+)?behind\s+(?:me|us|the\s+(?:postman|postie|courier|driver|cleaner|delivery\s+\w+))\b|\bfollowed\s+"
        r"(?:me|us)\s+(?:in|through)\s+(?:the\s+)?(?:[\w-]+\s+){0,2}?(?:door|gate|barrier|entrance)s?\b|"
        r"\b(?:walked|ran|made|making)\s+off\s+with\s+(?:it|them|the|my|our)\b|\btrying\s+(?:the\s+)?"
        r"(?:\w+\s+)?door\s*handles\b|\bforced\s+(?:open|the\s+(?:door|lock|gate|window))\b|\b(?:lock|padlock)\s+"
        r"(?:was|has\s+been|had\s+been)\s+(?:cut|broken|forced|smashed)\b",
        # "the padlock on the side shutter has been cut off"; "they snapped the lock on the back door"
        r"\b(?:locks?|padlocks?|chains?)\s+(?:on|of)\s+(?:the|my|our|his|her|their)\s+(?:[\w-]+\s+){0,2}?[\w-]+\s+"
        r"(?:was|were|has\s+been|have\s+been|had\s+been|got)\s+(?:cut|forced|smashed|snapped|drilled|jemmied)\b|"
        r"\b(?:they|someone|somebody|thieves|burglars?)\s+(?:had\s+|have\s+|'ve\s+|'d\s+)?(?:cut|snapped|forced|drilled|"
        r"smashed|jemmied|kicked\s+in)\s+(?:off\s+|open\s+)?(?:the|my|our|his|her|their)\s+(?:[\w-]+\s+){0,2}?(?:locks?|"
        r"padlocks?|chains?|doors?|windows?|shutters?|gates?)\b",
        # the police came, or were told, about something that happened to the customer
        r"\b(?:reported\s+(?:it|this|them)\s+to\s+the\s+police|(?:the\s+)?police\s+(?:have\s+been(?:\s+round)?|came(?:\s+round)?|"
        r"were\s+called)\b[^.\n]{0,40}\bcrime\s+(?:ref\w*|number|no)\b)",
    ),
    _kind(
        "a data protection or freedom of information request",
        "data protection privacy gdpr personal subject access request erasure deletion delete dpa information rights",
        r"\bsubject\s+access\s+request|\bdsar\b|\bright\s+to\s+(?:be\s+forgotten|erasure)|\bgdpr\b|"
        r"\bfreedom\s+of\s+information\b|\bfoi\b",
        r"\b(?:delete|erase|remove)\s+(?:all\s+)?(?:of\s+)?(?:my|our)\s+(?:personal\s+)?(?:data|details|information)\b|"
        r"\beverything\s+you\s+(?:keep|hold|have|store)\s+(?:about|on)\s+(?:me|us)\b|\b(?:what|all\s+the)\s+"
        r"(?:personal\s+)?(?:data|information)\s+you\s+(?:hold|keep|have|store)\s+(?:about|on)\s+(?:me|us)\b",
    ),
    _kind(
        "legal action, a regulator or a payment disputed with the bank",
        "legal law lawyer solicitor attorney court claim claims litigation lawsuit complaint complaints formal "
        "ombudsman regulator negligence dispute disputes threat threats",
        r"\b(?:lawyers?|solicitors?|(?<!power\sof\s)attorneys?|lawsuit|litigation|legal\s+(?:action|proceedings|claim|notice|"
        r"advice|steps)|sue\s+(?:you|them|your|the\s+company)|suing|small\s+claims|ombudsman|regulators?|tribunal|cease\s+and\s+desist|"
        r"class\s+action|negligen(?:ce|t)|trading\s+standards)\b",
        r"\b(?:take|taking|bring|bringing)\s+(?:you|this|it|the\s+matter|them|me|us)\s+to\s+court\b|\b(?:will|going\s+to|shall)\s+(?:be\s+)?"
        r"report(?:ing)?\s+(?:this|you|it|the\s+matter|your\s+\w+)\s+to\s+(?!you\b|your\b)\w+|\b(?:am|'m|are|'re|will\s+be|"
        r"going\s+to\s+be|have\s+been)\s+referring\s+(?:this|it|the\s+matter|my\s+complaint|the\s+complaint)\s+"
        r"to\s+(?!you\b|your\b|a\s+colleague|my\s+(?:wife|husband|partner|manager|boss|team|colleague))\w+",
        r"\bcourt\s+(?:case|claim|order|proceedings|action|summons)\b",
        # someone's work copied, printed or sold without their leave: a rights claim
        r"\b(?:copyright|trade\s?mark|intellectual\s+property)\s+(?:infringement|breach|violation|theft|owner|holder)\b|"
        r"\b(?:infring(?:e|es|ed|ing|ement)|plagiari[sz](?:ed|ing))\b[^.\n]{0,40}\b(?:copyright|design|work|artwork|images?|photos?|"
        r"logo|trade\s?mark|rights)\b|\b(?:i|we)(?:'ve|\s+have)?\s+(?:never|not|did\s+not|didn't)\s+(?:ever\s+)?"
        r"(?:given|gave|granted|give)\s+(?:anyone|anybody|you|them|him|her|permission|consent)\s+(?:(?:any\s+)?(?:permission|"
        r"consent|the\s+right)\s+)?to\s+(?:print|copy|use|sell|reproduce|publish|reprint|share)\b",
        r"\b(?:issue|issuing|issued|commence|commencing|start|starting|begin|take|taking)\s+(?:court\s+|legal\s+)?"
        r"proceedings\b|\bletter\s+(?:of\s+claim|before\s+(?:action|claim))\b",
        # a payment the customer disputes with their bank or card issuer (a chargeback)
        r"\bcharge-?backs?\b|\b(?:asked|told|contacted|called|rang|phoned)\s+(?:my|our)\s+(?:bank|card\s+(?:issuer|company|"
        r"provider))\s+to\s+(?:take|get|claw|reverse|dispute|return|stop|cancel|block)\b|\bdisput(?:e|ed|ing)\s+"
        r"(?:the|this|these|a|my|your)\s+(?:payments?|charges?|transactions?|debits?)\s+with\s+my\s+(?:bank|card)\b",
        r"\b(?:bank|card\s+(?:issuer|company|provider))\b[^.\n]{0,40}\b(?:taking|take|get|getting|claw\w*|revers\w*)\s+"
        r"(?:the\s+|my\s+|our\s+)?(?:money|payment|charge|funds)\s+back\b|\b(?:opened|raised|filed|started|lodged)\s+"
        r"a\s+(?:payment\s+|card\s+)?dispute\b",
        # the police or a court asking, which the business answers through its legal process
        r"\b(?:police\s+(?:officer|investigation|enquiry|inquiry|request)|detective|investigating\s+an?\s+(?:incident|"
        r"offence|crime|allegation)|crime\s+reference|production\s+order|court\s+order|warrant|subpoena)\b",
        # the authorities a customer reports a business to, by their common names
        r"\b(?:information\s+commissioner|ico|data\s+protection\s+(?:authority|regulator|commissioner)|"
        r"supervisory\s+authority|watchdog|consumer\s+protection\s+(?:agency|authority|office))\b",
    ),
)


MIN_DESCRIBED = 2
"""How many of a kind's words a category must use to cover it: one shared word is too often another sense of it
(a data `leak` is not a gas leak, a `claim` is not a legal claim)."""


def _describes(kind: RiskKind, category: Category) -> int:
    words = tokens(
        " ".join(
            [
                category.name.replace("_", " ").replace("-", " "),
                category.description,
                *category.keywords,
                *category.examples,
            ]
        )
    )
    return sum(1 for w in set(words) if w in kind.described_by)


@dataclass(frozen=True)
class _Reading:
    """What the risk signals read of one policy, worked out once per policy object."""

    covering: dict[str, Category | None]
    """Each kind, by name, with the escalating category that covers it."""
    plan_names: re.Pattern[str] | None
    """The declared plan names as whole words, however their parts are joined (`pay-as-you-go`, `pay as you
    go`); None when the policy declares none."""


_READING: dict[int, tuple[Policy, _Reading]] = {}


def _reading(policy: Policy) -> _Reading:
    kept = _READING.get(id(policy))
    if kept is None or kept[0] is not policy:
        names = [r"[\s_-]+".join(re.escape(p) for p in re.split(r"[\s_-]+", n.lower())) for n in policy.plans or []]
        reading = _Reading(
            {k.name: _covering(k, policy) for k in KINDS},
            re.compile(rf"\b(?:{'|'.join(names)})\b") if names else None,
        )
        if len(_READING) >= 256:
            _READING.pop(next(iter(_READING)))
        kept = _READING[id(policy)] = (policy, reading)
    return kept[1]


def covering(kind: RiskKind, policy: Policy) -> Category | None:
    """The escalating category whose own words describe this kind best (first in the policy's list on a tie),
    or None when none of them does. Worked out once per policy object (bounded)."""
    return _reading(policy).covering[kind.name]


def _covering(kind: RiskKind, policy: Policy) -> Category | None:
    best: tuple[int, Category] | None = None
    for name in policy.escalate.categories:
        category = policy.category(name)
        if category is None:
            continue
        score = _describes(kind, category)
        if score >= MIN_DESCRIBED and (best is None or score > best[0]):
            best = (score, category)
    return best[1] if best else None


def coverage(policy: Policy) -> dict[str, str | None]:
    """Each risk kind, by name, with the escalating category its reports go to (None: no escalating category
    covers it, and such reports are left to the classifier): what `deskhand tenant check` shows a business."""
    return {kind.name: (c.name if (c := covering(kind, policy)) else None) for kind in KINDS}


@dataclass(frozen=True)
class RiskSignal:
    kind: RiskKind
    category: Category
    said: str


_LAST: dict[tuple[str, str, int], tuple[Policy, list[RiskSignal]]] = {}


def risk_signals(subject: str, body: str, policy: Policy) -> list[RiskSignal]:
    """What the email says of each risk kind an escalating category covers: its subject and its own lines, without
    `>` quotes or the signature (a law firm's footer is not a legal threat). Triage asks twice for each email (to
    re-read its category, then for the reasons): the last few answers are kept."""
    key = (subject, body, id(policy))
    kept = _LAST.get(key)
    if kept is not None and kept[0] is policy:
        return list(kept[1])
    found = _risk_signals(subject, body, policy)
    if len(_LAST) >= 32:
        _LAST.pop(next(iter(_LAST)))
    _LAST[key] = (policy, found)
    return list(found)


def _risk_signals(subject: str, body: str, policy: Policy) -> list[RiskSignal]:
    own = plain(f"{subject}\n{unsigned(own_lines(body))}").lower()
    # the business's own plan names are names, not reports: a plan called "Spark" is no spark from a socket
    plans = _reading(policy).plan_names
    names = [m.span() for m in plans.finditer(own)] if plans else []
    found = []
    for kind in KINDS:
        # what the email rules out is blanked, keeping every other word where it was (the names' spans still hold)
        text = kind.unsaid.sub(lambda m: " " * len(m.group(0)), own) if kind.unsaid else own
        match = next(
            (m for m in kind.said.finditer(text) if not any(a <= m.start() and m.end() <= b for a, b in names)), None
        )
        if match is None:
            continue
        category = covering(kind, policy)
        if category is not None:
            found.append(RiskSignal(kind, category, " ".join(match.group(0).split())))
    return found
