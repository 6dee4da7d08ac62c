"""What the WhatsApp channel itself says to workers (msgids for the catalogs).

REMINDER and INVITATION are also the texts of the WhatsApp templates a CSO submits to Meta
(docs/whatsapp.md prints them per language, with {code} written as {{1}}).
"""

from bot.i18n import N_

# TRANSLATORS: WhatsApp, the button that opens a list of answers.
# button label, at most 20 characters
CHOOSE = N_("Choose")
# TRANSLATORS: WhatsApp, under a question with several possible answers: those chosen so far,
# e.g. "Chosen: Cash, Bank account".
CHOSEN = N_("Chosen: {choices}")
# TRANSLATORS: WhatsApp, the button under an invitation to a new survey.
# button label, at most 20 characters
BUTTON_START = N_("Start")
# TRANSLATORS: WhatsApp reminder to a worker who stopped halfway. It is also submitted to
# Meta as a message template: keep it plain, and keep the quoted button name.
# Neither wages nor the survey are named (a supervisor may read the notification); {sender}
# is the CSO's short name (or "us"), the template's one variable.
REMINDER = N_(
    "You have an unfinished message from {sender}. Press “Continue” to go on where you stopped."
)
# TRANSLATORS: WhatsApp invitation to a worker who asked to hear about the next survey. It is
# also submitted to Meta as a message template. {code} is the code on the factory poster.
# {sender} is the CSO's short name (or "us"): the template's first variable, {code} the second.
INVITATION = N_(
    "A new message from {sender} is waiting for you. It takes about 3 minutes. Press “Start” "
    "or send the code {code} in this chat."
)
