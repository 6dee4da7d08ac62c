"""Everything the engine says that is not part of a survey file (msgids for the catalogs).

Short sentences: many workers read at primary-school level, on a small screen.
"""

from bot.i18n import N_

CHOOSE_LANGUAGE = N_("Please choose your language.")
WELCOME_BACK = N_("Welcome back. Let's continue where you stopped.")
HELP = N_(
    "You can type these words at any time:\n"
    "• help – this message\n"
    "• back – change your last answer\n"
    "• restart – start again from the beginning\n"
    "• language – choose another language\n"
    "• stop – pause; your answers stay saved\n"
    "• delete – erase all your answers\n"
    "• clear – remove this chat's messages from your phone"
)
BUTTON_BACK = N_("Back")
BUTTON_SKIP = N_("Skip")
BUTTON_DONE = N_("Done")
BUTTON_YES = N_("Yes")
BUTTON_NO = N_("No")
BUTTON_DONT_KNOW = N_("Don't know")
BUTTON_AGREE = N_("I agree")
BUTTON_DECLINE = N_("No, thanks")
BUTTON_CONTINUE = N_("Continue")
BUTTON_CORRECT = N_("Yes, correct")
BUTTON_RETYPE = N_("No, type again")
BUTTON_DELETE = N_("Yes, delete")
BUTTON_KEEP = N_("No, keep them")

RECORDED = N_("Saved: {answer}")
NOTHING_TO_GO_BACK_TO = N_("This is the first question.")
ASK_FACTORY_CONFIRM = N_("Do you work at this factory: {factory}?")
ASK_FACTORY_CODE = N_("Please type the code printed on the poster. Example: {example}")
UNKNOWN_FACTORY_CODE = N_("I do not know this code. Please check the poster and type it again.")
FACTORY_NOW = N_("Factory: {factory}")
INVALID_CHOICE = N_("Please press one of the buttons, or type its number.")
INVALID_MULTI = N_("Press the buttons you want, then press “Done”. Or type the numbers, like: 1, 3")
INVALID_YES_NO = N_("Please answer yes or no.")
INVALID_NUMBER = N_("Please write the amount in numbers. Example: {example}")
NUMBER_TOO_SMALL = N_("That is too small. Please write an amount of at least {min}.")
NUMBER_TOO_LARGE = N_("That is too large. Please write an amount of at most {max}.")
CONFIRM_NUMBER = N_("You wrote {value}. Is that correct?")
TEXT_TOO_LONG = N_("That is too long. Please write at most {max} letters.")
TEXT_EMPTY = N_("Please write your answer, or press “Skip”.")
MEDIA_NOT_UNDERSTOOD = N_(
    "Sorry, I can only read text and buttons. Voice notes, pictures and stickers are not saved."
)
UNKNOWN_COMMAND = N_("I do not know that command. Type “help” to see what you can type.")
EDITED_MESSAGE = N_(
    "You changed a message. I only read new messages. To change your last answer, type “back”."
)
STILL_STUCK = N_("If you are stuck, type “help”.")
PAUSED = N_(
    "Paused. Your answers so far are saved. Send any message to continue, "
    "or “delete” to erase them. I will not send you a reminder."
)
# TRANSLATORS: button under PAUSED, at most 20 characters
BUTTON_REMIND = N_("Remind me later")
REMIND_LATER = N_(
    "OK. I will remind you later, with a short message that does not say what it is about."
)
CONFIRM_DELETE = N_("Do you want to erase all your answers to this survey?")
DELETED = N_("Your answers have been erased. Thank you. You can start again at any time.")
NOTHING_TO_DELETE = N_("There are no saved answers to erase.")
DELETE_CANCELLED = N_("Nothing was erased.")
RESTARTED = N_("Starting again from the beginning.")
ALREADY_ANSWERED = N_("You answered that question already. Here is the question you are on now:")
CONFIRM_RESTART = N_(
    "You have finished this survey. Do you want to answer it again? "
    "Your first answers stay saved until you finish the new ones."
)
# TRANSLATORS: buttons under CONFIRM_RESTART, at most 20 characters each
BUTTON_RESTART = N_("Yes, start again")
BUTTON_KEEP_ANSWERS = N_("No, keep my answers")
RESTART_CANCELLED = N_("Your answers stay as they are.")
ALREADY_DONE = N_(
    "You have already answered this survey. Thank you! "
    "Type “restart” to answer again or “delete” to erase your answers."
)
NOT_STARTED = N_("To take part, scan the QR code on the poster at your factory, or type its code.")
MINIMUM_INFO = N_(
    "For your information: the legal minimum wage in {region} for {month} is {minimum} a month "
    "for {grade} work."
)
# When no minimum has been notified yet for the fiscal year (from 1 July) of {month}: the
# latest notified one still applies, but it may be about to change. {since}: e.g. "July 2025".
MINIMUM_INFO_STALE = N_(
    "For your information: no new legal minimum wage has been notified in {region} for {month} "
    "yet. The latest notified minimum (from {since}) is {minimum} a month for {grade} work."
)
# The wage grades as a worker reads them, in MINIMUM_INFO's {grade}.
GRADE_WORDS = {
    "unskilled": N_("unskilled"),
    "semi_skilled": N_("semi-skilled"),
    "skilled": N_("skilled"),
    "highly_skilled": N_("highly skilled"),
}
SAVED = N_("saved")  # the echo of an answer marked echo: false ("✓ saved")
MINIMUM_FALLBACK = N_(
    "There is no separate figure for {grade} work for this month yet, so this is the minimum "
    "for unskilled work. Every worker is owed at least this."
)
# Neither repeats the amount (the pay question is echo: false): the fact, not the figure.
PAY_BELOW_MINIMUM = N_("The pay you told us for that month is {gap} less than this minimum.")
PAY_AT_LEAST_MINIMUM = N_("The pay you told us for that month is at least this minimum.")
CHOICE_NUMBERED = N_("{number}. {label}")
LANGUAGE_SET = N_("Language: English")

# Removing the chat's messages from the phone (a supervisor may pick it up).
# TRANSLATORS: button under the last message, at most 20 characters
BUTTON_CLEAR_CHAT = N_("Clear this chat")
CLEAR_CHAT_OFFER = N_(
    "Someone else may look at your phone. Press “Clear this chat” to delete these messages. "
    "Your answers stay saved."
)
CHAT_CLEARED = N_(
    "I deleted the messages of this chat. I cannot delete messages older than two days. "
    "To remove them, and this chat: press and hold the chat in your list, then Delete."
)
# TRANSLATORS: WhatsApp's menus; "⋮" is the three-dot menu at the top right on Android.
CLEAR_CHAT_WHATSAPP = N_(
    "WhatsApp does not let me delete messages. To remove them from your phone: open this "
    "chat, press ⋮ at the top, then More, then Clear chat. On an iPhone: press the name at the "
    "top, then Clear Chat."
)
CONTINUE_LATER = N_("Your answers so far are saved. Send any message to continue.")
NOTHING_TO_CLEAR = N_("There is nothing to clear here.")
# Where to get help: shown at the end of the survey and on "help", when the round's CSO set no
# text of its own in the worker's language (docs/rounds.md, "Where workers get help"). No phone
# number or address: the CSO adds its own helpline. Sources of the complaint route:
# docs/rounds.md. "Sindh Labour Department": the Sindh Labour and Human Resources Department;
# "the Labour Officer": the district's labour officer (Directorate of Labour).
# TRANSLATORS: the default help text for factories in Sindh. Short, simple sentences.
HELP_WHERE_SINDH = N_(
    "Need help with your pay? The organisation that runs this survey can help you.\n"
    "You can also complain to the Sindh Labour Department. Go to the Labour Officer's office "
    "in your district."
)
# TRANSLATORS: the default help text for factories outside Sindh.
HELP_WHERE_GENERIC = N_(
    "Need help with your pay? The organisation that runs this survey can help you.\n"
    "You can also complain to the Labour Department of your province."
)
# The default help text of each region (wage table region keys); others get the generic one.
HELP_WHERE = {"sindh": HELP_WHERE_SINDH}


def default_help(region: str | None) -> str:
    """The msgid of the default help text for a factory's region (None: no factory yet)."""
    return HELP_WHERE.get(region or "", HELP_WHERE_GENERIC)
