"""What the Telegram channel itself says to workers (msgids for the catalogs)."""

from bot.i18n import N_

PRIVATE_ONLY = N_(
    "I only answer in a private chat with you, to keep your answers safe. "
    "Please open a chat with me and press Start."
)
# Bot menu (setMyCommands): command -> description, shown in the worker's language.
COMMANDS = {
    "help": N_("What you can type"),
    "back": N_("Change your last answer"),
    "restart": N_("Start again"),
    "language": N_("Choose your language"),
    "stop": N_("Pause the survey"),
    "delete": N_("Erase your answers"),
}
