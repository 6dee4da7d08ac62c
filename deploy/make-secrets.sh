#!/bin/sh
# Creates the secret files deploy/compose.yaml reads (docs/deploy.md, "Secrets"), without
# overwriting one that exists. Random values for what we make up ourselves; empty files for
# what comes from elsewhere, to be filled in:
#   telegram_token       the token from @BotFather
#   whatsapp_token       a system user's permanent token (Meta)     } empty without WhatsApp:
#   whatsapp_app_secret  the app secret (Meta's dashboard)          } an empty file is the
#   whatsapp_verify_token (made up here; give the same to Meta)     } same as no setting
# The files belong to root, readable by the containers' group (10001) only.
# SECRETS_DIR=... puts them elsewhere (the systemd route uses /etc/wagecheck/credentials).
set -eu
dir=${SECRETS_DIR:-$(dirname "$0")/secrets}
group=${SECRETS_GROUP:-10001}
mkdir -p "$dir"
chmod 0750 "$dir"
umask 077

random() {  # 32 random bytes as 64 hex digits: safe in URLs and in Telegram's secret token
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

for name in database_password secret_key telegram_webhook_secret whatsapp_verify_token \
            telegram_token whatsapp_token whatsapp_app_secret; do
    file="$dir/$name"
    if [ -e "$file" ]; then
        echo "kept     $file"
        continue
    fi
    case $name in
        telegram_token|whatsapp_token|whatsapp_app_secret) : > "$file"; state="empty   " ;;
        *) random > "$file"; state="created " ;;
    esac
    echo "$state $file"
done
if [ "$(id -u)" = 0 ]; then
    chown "root:$group" "$dir" "$dir"/*
    chmod 0440 "$dir"/*
else
    echo "not root: give the files to group $group yourself (chgrp $group $dir/*; chmod 0440 $dir/*)"
fi
echo "Now put the Telegram token into $dir/telegram_token (and WhatsApp's into whatsapp_*)."
echo "Back up secret_key apart from the database: without it the answers cannot be linked"
echo "to their workers again and contact addresses cannot be read (docs/operations.md)."
