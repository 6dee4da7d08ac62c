"""The embedded demo: a CSO, two brands, factories in Sindh, two rounds, simulated workers.

The rounds lie either side of Sindh's raise of 1 July 2025 (37,000 to 40,000 PKR): the first
asks in early July 2025 about June (and May), the second in mid-August about July (and, for a
fifth of the workers, June: its pay months straddle the raise). Some factories pass the raise
on, others do not (`RAISE_PASSED`), so the reports of the second round show a trend.

Workers answer through the real service and engine, as a phone would: they read the bot's
last question and press a button or type, in Urdu, Sindhi or English, with Urdu digits,
typos, "25k", people who change an answer and people who stop halfway. Reproducible by seed.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.bootstrap import App
from bot.enums import OrgKind
from bot.service import InboundMessage, Outcome
from bot.survey.state import InputKind, Reply, ResponseCompleted

CSO = "Sindh Labour Support Network (demo)"
BRANDS = {
    "Noordzee Fashion (demo)": ["KHI-001", "KHI-002", "KHI-003"],
    "Amstel Apparel (demo)": ["KHI-003", "HYD-001", "KHI-004", "KHI-005"],
}
# code, name, city, headcount, share of workers paid at least the minimum, share of traffic
FACTORIES = [
    ("KHI-001", "Korangi Knitwear Ltd.", "Karachi", 420, 0.92, 0.25),
    ("KHI-002", "SITE Denim Mills", "Karachi", 650, 0.55, 0.25),
    ("KHI-003", "Landhi Stitching Works", "Karachi", 300, 0.25, 0.18),
    ("HYD-001", "Hyderabad Home Textiles", "Hyderabad", 380, 0.80, 0.2),
    ("KHI-004", "Bin Qasim Garments", "Karachi", 140, 0.70, 0.09),
    ("KHI-005", "Orangi Tailoring Unit", "Karachi", 35, 0.50, 0.03),
]
# Of the workers paid at least the minimum before the raise, the share whose pay followed it.
RAISE_PASSED = {
    "KHI-001": 0.98,
    "KHI-002": 0.55,
    "KHI-003": 1.0,
    "HYD-001": 0.6,
    "KHI-004": 0.9,
    "KHI-005": 0.8,
}
# The two rounds: name, the moment it opens (answers come in over the 6 days before the moment
# given here), the moment it closes; before and after the raise.
ROUNDS = (
    ("Sindh minimum wage check, June 2025 (before the raise)", (2025, 7, 9), (2025, 7, 20)),
    ("Sindh minimum wage check, July 2025 (after the raise)", (2025, 8, 12), (2025, 8, 25)),
)
# job -> wage grade, as in the survey file
JOBS = {
    "helper": "unskilled",
    "operator": "semi_skilled",
    "checker": "semi_skilled",
    "other": "unskilled",
}
LANGUAGES = (("ur", 0.55), ("sd", 0.25), ("en", 0.20))
URDU_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
YES_WORDS = {"ur": ["ہاں", "جی", "haan"], "sd": ["ها", "جي"], "en": ["yes", "Yes"]}
NO_WORDS = {"ur": ["نہیں", "nahi"], "sd": ["نه"], "en": ["no", "No"]}
COMMENTS = {
    "ur": "اوور ٹائم کے پیسے دیر سے ملتے ہیں",
    "sd": "اوور ٽائيم جا پئسا دير سان ملن ٿا",
    "en": "Overtime is paid late",
}


@dataclass
class Action:
    """What a simulated worker does next: press a button or type a text."""

    kind: InputKind
    text: str = ""
    payload: str = ""


@dataclass
class Worker:
    """A simulated worker and how they behave."""

    user_id: str
    lang: str
    factory_code: str
    access_code: str
    # by the month the worker tells about: [last month, the month before] (months_back 1, 2)
    compliant_by: tuple[bool, bool]
    minimums: tuple[int, int]
    job: str
    rng: random.Random
    via_link: bool
    quits_at: str | None
    style: str  # how they type numbers
    typos: bool
    changes_mind: bool
    answered: set[str] = field(default_factory=set)
    backed: bool = False
    month_index: int = 0

    @property
    def compliant(self) -> bool:
        return self.compliant_by[self.month_index]

    @property
    def minimum(self) -> int:
        return self.minimums[self.month_index]

    def pay(self) -> int:
        if self.compliant:
            return self.minimum + self.rng.choice([0, 0, 500, 1000, 2000, 3000, 5000, 8000])
        return self.rng.randrange(int(self.minimum * 0.6) // 500, (self.minimum - 500) // 500) * 500

    def type_amount(self, amount: int) -> str:
        if self.style == "urdu":
            return (
                f"{amount:,}".translate(URDU_DIGITS)
                if self.rng.random() < 0.5
                else str(amount).translate(URDU_DIGITS)
            )
        if self.style == "arabic":
            return str(amount).translate(ARABIC_DIGITS)
        if self.style == "k" and amount % 1000 == 0:
            return f"{amount // 1000}k"
        if self.style == "rs":
            return f"Rs {amount:,}/-"
        if self.style == "hazar" and amount % 1000 == 0:
            return f"{amount // 1000} ہزار"
        return str(amount)

    def answer(self, reply: Reply) -> Action | None:
        """What the worker does next, or None when they stop answering."""
        qid, rng = reply.question_id, self.rng
        buttons = {b.payload.rsplit(":", 1)[-1]: b.payload for b in reply.buttons}

        def press(value: str) -> Action:
            return Action("button", payload=buttons[value])

        def say(text: str) -> Action:
            return Action("text", text=text)

        if qid is None:
            return say(rng.choice(YES_WORDS[self.lang])) if "yes" in buttons else None
        if qid == self.quits_at:
            return None
        if self.typos and qid not in self.answered and qid in ("pay", "job", "full_month"):
            self.answered.add(qid)
            return say(rng.choice(["??", "ok", "abc", "25,ooo", "😊"]))
        self.answered.add(qid)
        if self.changes_mind and qid == "payslip" and not self.backed:
            self.backed = True
            return say({"ur": "واپس", "sd": "پوئتي", "en": "back"}[self.lang])
        if qid == "language":
            return press(self.lang)
        if qid == "consent":
            return press("yes") if rng.random() < 0.98 else press("no")
        if qid == "factory":
            if "yes" in buttons:
                return press("yes")
            code = self.access_code
            return say(code.lower() if rng.random() < 0.3 else f"{code[:3]} {code[3:]}")
        if qid == "pay":
            if "_ok" in buttons:
                return press("_ok")
            return say(self.type_amount(self.pay()))
        if qid in ("full_month", "payslip", "deductions", "pay_rise", "contact_opt_in"):
            p_yes = {
                "full_month": 0.88,
                "payslip": 0.45 if self.compliant else 0.15,
                "deductions": 0.1 if self.compliant else 0.4,
                "pay_rise": 0.85 if self.compliant else 0.3,
                "contact_opt_in": 0.3,
            }[qid]
            if qid in ("pay_rise", "deductions") and rng.random() < 0.1:
                return press("dont_know")
            yes = rng.random() < p_yes
            if rng.random() < 0.3:
                return say(rng.choice((YES_WORDS if yes else NO_WORDS)[self.lang]))
            return press("yes" if yes else "no")
        if qid == "payment_method":
            if rng.random() < 0.3:
                return say(rng.choice(["1", "1,2", "۱، ۳", "2"]))
            ticked = [p for p in reply.buttons if p.label.startswith("✓")]
            if not ticked:
                return Action("button", payload=rng.choice(reply.buttons[:3]).payload)
            return press("_done")
        if qid == "comment":
            return say(COMMENTS[self.lang]) if rng.random() < 0.12 else press("_skip")
        if qid == "pay_month":
            self.month_index = 0 if rng.random() < 0.8 else 1
            return Action("button", payload=reply.buttons[self.month_index].payload)
        if qid == "job":
            return press(self.job)
        if qid == "employment":
            if rng.random() < 0.2:
                return say(str(rng.randint(1, 4)).translate(URDU_DIGITS))
            return press(
                rng.choices(["permanent", "contractor", "piece_rate", "daily"], [4, 3, 2, 1])[0]
            )
        if qid == "gender":
            return press(rng.choices(["woman", "man", "unsaid"], [4, 5, 1])[0])
        return press(next(iter(buttons))) if buttons else say("1")


@dataclass
class DemoResult:
    round_id: int
    workers: int
    messages: int
    completed: int
    stopped: int
    seconds: float


async def set_up(app: App, round_name: str = ROUNDS[0][0]) -> tuple[int, dict[str, str]]:
    """Register the CSO, brands and factories and open a round; return its id and codes."""
    admin = app.admin
    await admin.add_org(CSO, OrgKind.CSO)
    for brand in BRANDS:
        await admin.add_org(brand, OrgKind.BRAND)
    for code, name, city, headcount, _, _ in FACTORIES:
        await admin.add_factory(
            code, name, "sindh", city, os_id=f"PK2026DEMO{code[-3:]}{code[0]}", headcount=headcount
        )
    for brand, codes in BRANDS.items():
        await admin.link(brand, codes)
    return await open_round(app, round_name)


async def open_round(app: App, name: str) -> tuple[int, dict[str, str]]:
    """Open a round of every demo factory; its id and poster codes."""
    rnd = await app.admin.open_round(name, CSO, app.survey, [f[0] for f in FACTORIES])
    return rnd.id, {rf.factory.code: rf.code for rf in rnd.factories}


async def simulate(
    app: App,
    round_id: int,
    codes: dict[str, str],
    workers: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    concurrency: int = 8,
) -> DemoResult:
    """Let `workers` simulated workers answer through the service, several at a time."""
    rng = random.Random(seed)
    started = time.perf_counter()
    now = app.clock().replace(microsecond=0)
    last_month = date(now.year, now.month, 1) - timedelta(days=1)
    month_before = date(last_month.year, last_month.month, 1) - timedelta(days=1)
    ids = itertools.count(1)
    weights = [f[5] for f in FACTORIES]
    people: list[tuple[Worker, datetime]] = []
    for i in range(workers):
        f = rng.choices(FACTORIES, weights)[0]
        wrng = random.Random(rng.random())
        job = wrng.choices(list(JOBS), [4, 5, 2, 1])[0]
        minimums = [
            app.wages.minimum_for("sindh", JOBS[job], m) for m in (last_month, month_before)
        ]
        assert minimums[0] is not None and minimums[1] is not None
        paid = wrng.random() < f[4]
        # After a raise (last month's minimum above the month before's), only some pay follows.
        followed = minimums[0].amount == minimums[1].amount or wrng.random() < RAISE_PASSED[f[0]]
        worker = Worker(
            user_id=f"demo-{seed}-{i}",
            lang=rng.choices([lang for lang, _ in LANGUAGES], [w for _, w in LANGUAGES])[0],
            factory_code=f[0],
            access_code=codes[f[0]],
            compliant_by=(paid and followed, paid),
            minimums=(minimums[0].amount, minimums[1].amount),
            job=job,
            rng=wrng,
            via_link=wrng.random() < 0.75,
            quits_at=wrng.choice(["pay", "payslip", "gender"]) if wrng.random() < 0.07 else None,
            style=wrng.choices(["latin", "urdu", "arabic", "k", "rs", "hazar"], [5, 3, 1, 1, 2, 1])[
                0
            ],
            typos=wrng.random() < 0.1,
            changes_mind=wrng.random() < 0.05,
        )
        clock = now - timedelta(days=6) + timedelta(minutes=wrng.randrange(0, 6 * 24 * 60))
        people.append((worker, clock))

    tally = {"messages": 0, "completed": 0, "stopped": 0, "done": 0}
    gate = asyncio.Semaphore(concurrency)

    async def run(worker: Worker, clock: datetime) -> None:
        async def send(action: Action, start_code: str | None = None) -> Outcome:
            msg = InboundMessage(
                channel="demo",
                user_id=worker.user_id,
                message_id=str(next(ids)),
                kind=action.kind,
                received_at=clock,
                text=action.text,
                payload=action.payload,
                start_code=start_code,
            )
            tally["messages"] += 1
            return await app.service.handle(msg)

        async with gate:
            outcome = await send(Action("start"), worker.access_code if worker.via_link else None)
            for _ in range(60):  # a survey never needs this many steps; a guard, not a limit
                question = next(
                    (r for r in reversed(outcome.replies) if r.question_id or r.buttons), None
                )
                if question is None:
                    break
                action = worker.answer(question)
                if action is None:
                    tally["stopped"] += 1
                    break
                clock += timedelta(seconds=worker.rng.randint(4, 40))
                outcome = await send(action)
                if any(isinstance(e, ResponseCompleted) for e in outcome.events):
                    tally["completed"] += 1
                    break
            tally["done"] += 1
            if progress:
                progress(tally["done"])

    await asyncio.gather(*(run(w, c) for w, c in people))
    return DemoResult(
        round_id=round_id,
        workers=workers,
        messages=tally["messages"],
        completed=tally["completed"],
        stopped=tally["stopped"],
        seconds=time.perf_counter() - started,
    )
