"""A support-domain concept lexicon: the everyday words a customer writes for a need, grouped with the words a
business names that need by.

A customer writes "I was charged twice" or "the parcel never came"; the business named its categories
"Invoices and payments" and "Delivery problems". No word is shared, but both sides say something of one
concept (money taken, an arrival). The offline classifier adds a pseudo-token (`§money`) to the email and to
each category's profile for every word or phrase of a concept either contains, weighted below an exact word;
IDF over the profiles damps a concept that several categories share.

Each concept is a list of English words and short phrases of customer support in any business, written in
the forms a customer uses (`charge, charged, charges`: the light stemmer does not join them all). To extend
it, add general English that any business's customers or categories would use for the need, or a new
concept of the same kind; never a business's product, plan or brand names, nor phrasing peculiar to one
business. A phrase is matched as consecutive words, stop words kept (`money back`, `log in`); a word that
belongs to two concepts counts for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from specialists.kit import tokens, words

MARK = "§"
"""What starts a concept's pseudo-token; no word token holds it (tokens are letters and digits)."""

# fmt: off
CONCEPTS: dict[str, str] = {
    "money": (
        "charge, charged, charges, charging, overcharge, overcharged, bill, bills, billed, billing, invoice, invoices, "
        "invoiced, payment, payments, pay, paid, paying, fee, fees, debit, debited, direct debit, deducted, "
        "deduction, money, amount, transaction, transactions, credit card, debit card, card payment, "
        "instalment, instalments, installment, premium, premiums, tariff, vat, receipt, "
        "taken from my account, took money, took the money, taken twice, charged twice, double charged, came out of"
    ),
    "refund": (
        "refund, refunds, refunded, refunding, money back, reimburse, reimbursed, reimbursement, repay, repaid, "
        "compensation, compensate, compensated, goodwill, credit back, credited, partial refund, "
        "full refund, give back, give me back, pay back, paid back, want back, the money back"
    ),
    "payout": (
        "payout, payouts, paid out, pay out, get paid, getting paid, earnings, earned, proceeds, withdraw, "
        "withdrawal, withdrawals, transfer to my bank, bank account, bank details, sort code"
    ),
    "price": (
        "price, prices, pricing, priced, cost, costs, how much, quote, quotes, quotation, estimate, rate, rates, "
        "expensive, cheaper, cheap, afford, discount, discounts, offer, offers, deal, deals, price increase, "
        "went up, too much"
    ),
    "arrears": (
        "arrears, debt, debts, owe, owed, owing, outstanding, overdue, missed payment, late payment, late fee, "
        "final notice, debt collector, collection agency, bailiff, bailiffs, payment plan, "
        "declined, bounced, failed payment, payment failed, unpaid"
    ),
    "delivery": (
        "deliver, delivered, delivering, delivery, deliveries, parcel, parcels, package, packages, shipment, "
        "shipments, ship, shipped, shipping, courier, couriers, driver, drivers, dispatch, dispatched, arrive, "
        "arrived, arrives, arrival, arriving, tracking, track, tracked, in transit, transit, pick up, pickup, "
        "collection, doorstep, safe place, left outside, never came, never arrived, not arrived, "
        "hasn't arrived, has not arrived, didn't arrive, did not arrive, not turned up, hasn't come, has not come, "
        "still not here, on its way, lost parcel, consignment, freight, drop off, drop-off, front door, "
        "neighbour, neighbor"
    ),
    "delay": (
        "late, delay, delays, delayed, still waiting, overdue, taking so long, too long, ages, no reply, "
        "no response, no answer, chase, chasing, yet to, still nothing, hasn't moved, not moved"
    ),
    "access": (
        "log in, login, logins, logging in, log on, sign in, signing in, signin, password, passwords, username, "
        "locked out, lock out, can't get in, cannot get in, can't access, cannot access, "
        "two-factor, 2fa, verification code, one-time code, authentication, authenticator, reset link, "
        "access, account locked, credentials, pin, forgot my password, forgotten password, logged out, logging me out"
    ),
    "security": (
        "hacked, hack, hacker, fraud, fraudulent, scam, scammed, scammer, phishing, suspicious, unauthorised, "
        "unauthorized, not me, wasn't me, was not me, didn't make, did not make, stolen, compromised, breach, "
        "identity theft, impersonating, impersonation, unrecognised, unrecognized, "
        "don't recognise, do not recognise, don't recognize, never heard of, strange login, new device, "
        "without my permission, without permission, is this you, is it real, is this real, genuine, never changed, "
        "didn't change, did not change, didn't add, did not add, never added, none of us, neither of us, wasn't us, "
        "was not us, not my account, isn't my account, don't have an account"
    ),
    "identity": (
        "verify, verified, verification, identity, proof of identity, passport, driving licence, "
        "driver's license, photo id, proof of address, kyc"
    ),
    "cancel": (
        "cancel, cancels, cancelled, canceled, cancelling, canceling, cancellation, cancellations, terminate, "
        "termination, end my contract, close my account, close account, quit, "
        "unsubscribe, notice period, opt out, no longer want, no longer need, get out of, leaving you, "
        "stop my membership, stop my subscription, won't need, will not need, won't be needing"
    ),
    "pause": (
        "pause, paused, pausing, freeze, frozen, on hold, suspend, suspended, skip, skipped, skipping, "
        "holiday, temporarily, time off, away for, restart, resume, start again"
    ),
    "plan": (
        "plan, plans, upgrade, upgraded, upgrading, downgrade, downgraded, downgrading, subscription, "
        "subscriptions, subscribe, subscribed, tier, package, membership, memberships, bundle, "
        "contract, contracts, renew, renewal, renewed, renewing, switch plan, change plan, change my plan, add-on, "
        "addon, trial, seats, licence, license, licences, licenses, bigger, smaller, size, minimum term"
    ),
    "broken": (
        "not working, doesn't work, does not work, don't work, isn't working, stopped working, won't work, "
        "broken, error, errors, bug, bugs, crash, crashes, crashed, crashing, fail, fails, failed, failing, "
        "failure, glitch, freezes, stuck, won't load, not loading, blank, fault, faults, faulty, "
        "outage, outages, offline, disconnected, disconnects, keeps dropping, cutting out, cuts out, cut off, "
        "no signal, no connection, no service, unavailable, malfunction, timed out, closing itself, "
        "keeps closing, shuts down, shut down, red light, out of order, no hot water, won't scan, doesn't scan, "
        "turned it off and on, switched off and on, restarted, still red"
    ),
    "technical": (
        "app, apps, application, website, browser, device, laptop, computer, screen, button, "
        "download, install, installed, settings, integration, api, sync, syncing, wifi, wi-fi, internet, "
        "broadband, router, network, signal, notification, notifications, upload, portal, online"
    ),
    "booking": (
        "book, booked, booking, bookings, appointment, appointments, reserve, reserved, reservation, "
        "reservations, schedule, scheduled, scheduling, reschedule, rescheduled, rebook, rebooked, slot, slots, "
        "availability, calendar, session, sessions, postpone, postponed, move my appointment, "
        "move my booking, check in, check-in, timetable, waitlist, waiting list"
    ),
    "details": (
        "change my address, new address, address, addresses, moved house, move house, moving house, moving home, "
        "personal details, contact details, surname, spelling, spelt, misspelled, phone number, "
        "mobile number, email address, update my details, change my details, change my email, change my name, "
        "date of birth, billing address"
    ),
    "complaint": (
        "complaint, complaints, complain, complained, complaining, unhappy, disappointed, disappointing, "
        "dissatisfied, dissatisfaction, unacceptable, rude, rudeness, terrible, awful, appalling, disgusted, "
        "disgraceful, shocking, ridiculous, frustrated, frustrating, fed up, not good enough, poor service, "
        "bad service, worst, angry, let down, unprofessional, attitude, conduct, misled, mis-sold, "
        "pressured, treated, apology"
    ),
    "damage": (
        "damaged, damage, damages, broken, cracked, smashed, dented, torn, ripped, leaking, leaked, leak, "
        "faulty, defective, defect, spoiled, spoilt, rotten, mouldy, moldy, expired, scratched, stained, "
        "squashed, crushed, melted, split, burst, bruised, slimy, not fresh, poor quality"
    ),
    "dirty": (
        "dirty, filthy, unclean, not clean, cleanliness, cleaning, smell, smells, smelly, stink, mould, mold, damp, "
        "pests, pest, mice, mouse, rats, rat, droppings, insects, cockroach, cockroaches, bed bugs, hair, stains"
    ),
    "wrong_item": (
        "missing, incorrect, not what i ordered, wrong item, wrong size, wrong colour, wrong color, "
        "item missing, items missing, left out, incomplete, not included, substitute, substituted, "
        "substitution, mixed up, there was no, there were no, forgot to include, didn't come with"
    ),
    "order": (
        "order, orders, ordered, ordering, purchase, purchases, purchased, bought, buy, buying, checkout, basket, "
        "cart, item, items, product, products, out of stock, in stock, goods, seller, sellers, "
        "listing, listings"
    ),
    "return": (
        "return, returns, returned, returning, send back, sent back, sending back, exchange, exchanged, swap, "
        "replacement, replace, replaced, return label, returns label, take back"
    ),
    "privacy": (
        "privacy, personal data, my data, data protection, gdpr, delete my data, delete my account, erase, "
        "erasure, subject access, access request, dsar, consent, information you hold, data you hold, "
        "marketing, marketing emails, spam, third party, third parties"
    ),
    "legal": (
        "lawyer, lawyers, solicitor, solicitors, attorney, court, legal, legally, sue, suing, lawsuit, "
        "litigation, tribunal, small claims, ombudsman, regulator, trading standards, statutory, "
        "liability, liable, negligence, breach of contract, chargeback, dispute, disputed, asked my bank, "
        "our client, we act for, on behalf of our client, letter of claim, letter before action, insurers"
    ),
    "safety": (
        "injured, injury, injuries, hurt, accident, accidents, unsafe, dangerous, danger, hazard, hazardous, "
        "ill, illness, sick, unwell, poorly, vomit, vomiting, vomited, stomach, diarrhoea, diarrhea, "
        "food poisoning, allergic, allergy, allergies, reaction, emergency, emergencies, hospital, ambulance, "
        "fire, gas leak, smell of gas, flood, flooding, slipped, burned, burnt, "
        "threat, threatened, threatening, harassment, harassed, abuse, abusive, police, following me, "
        "followed me, stalking, scared, frightened, afraid, don't feel safe, do not feel safe, up all night, "
        "shaken, intimidated, intimidating, aggressive, violent, in my face, wait for me, hospitalised, hospitalized"
    ),
    "question": (
        "how do i, how can i, how to, where can i, where do i, is it possible, is there a way, "
        "question, questions, wondering, explain, guide, guidance, instructions, "
        "help with, set up, setup, setting up, configure, tutorial, faq, advice"
    ),
    "users": (
        "user, users, admin, administrator, add a user, invite, invited, invitation, "
        "permission, permissions, role, roles, team member, team members, colleague, colleagues, employee, "
        "employees, access for"
    ),
    "feedback": (
        "feedback, suggestion, suggestions, suggest, idea, ideas, feature request, would be nice, "
        "wish, praise, compliment, compliments, thank you for, brilliant, excellent, lovely, "
        "recommend, review, reviews, rating, survey, improve, improvement"
    ),
    "voucher": (
        "voucher, vouchers, coupon, coupons, promo, promo code, promotion, promotional, discount code, "
        "gift card, gift voucher, referral, refer a friend, loyalty, reward, rewards"
    ),
    "documents": (
        "certificate, certificates, document, documents, letter, letters, confirmation, proof, "
        "copies, statement, statements, receipt, receipts, form, forms, pdf, paperwork"
    ),
    "usage": (
        "usage, consumption, reading, readings, meter, meters, allowance, limit, limits, quota, "
        "units, top up, top-up, topped up"
    ),
    "accessibility": (
        "accessibility, accessible, disability, disabled, wheelchair, hearing, deaf, blind, visually impaired, "
        "impairment, adjustment, adjustments, reasonable adjustment, dyslexia, dyslexic, carer, mobility, "
        "vulnerable, medical condition"
    ),
    "contact": (
        "call me, call back, callback, ring me, phone me, speak to, talk to, speak with, talk with, "
        "real person, contact me, get in touch"
    ),
}
# fmt: on


def _entries() -> Iterator[tuple[tuple[str, ...], str]]:
    for concept, listed in CONCEPTS.items():
        for entry in listed.split(","):
            said = tuple(words(entry))
            if said:
                yield said, concept


class _Lexicon:
    """The concepts as matched: each word with the entries (words as `kit.words` gives them) it starts."""

    def __init__(self) -> None:
        starts: dict[str, dict[tuple[str, ...], set[str]]] = {}
        for said, concept in _entries():
            starts.setdefault(said[0], {}).setdefault(said, set()).add(concept)
        self.starts = {
            first: [(said, frozenset(MARK + c for c in concepts)) for said, concepts in entries.items()]
            for first, entries in starts.items()
        }

    def concepts(self, text: str) -> list[str]:
        said = words(text)
        found: list[str] = []
        for i, word in enumerate(said):
            here: set[str] = set()  # a concept once per word, though `charged twice` and `charged` both match
            for entry, concepts in self.starts.get(word, ()):
                if tuple(said[i : i + len(entry)]) == entry:
                    here |= concepts
            found += sorted(here)
        return found


_LEXICON = _Lexicon()


def concept_tokens(text: str) -> list[str]:
    """The concept pseudo-tokens (`§money`) of a text: one for each concept of each word where an entry of it
    starts (`charged twice` is one `§money`; `double charged` two)."""
    return _LEXICON.concepts(text)


@lru_cache(maxsize=16384)
def policy_concepts(text: str) -> tuple[str, ...]:
    """`concept_tokens` of a text of a policy (a category's name, keywords, description or an example), kept: the
    same texts are read each time profiles are built (`tenant check` builds them once per example it leaves out)."""
    return tuple(_LEXICON.concepts(text))


@lru_cache(maxsize=16384)
def policy_tokens(text: str) -> tuple[str, ...]:
    """`kit.tokens` of a text of a policy, kept as `policy_concepts` is."""
    return tuple(tokens(text))
