"""Channels are thin adapters: they turn a platform's message into an InboundMessage, call the
service, and render the replies. The terminal is the first; Telegram and WhatsApp follow."""
