"""An offline LINE platform emulator: Messaging API, webhooks, LIFF identity and a phone simulator.

It plays LINE for one or more channels so that Kairan can be developed, tested
and rehearsed (staff training included) without the internet. Start it with
``python -m emulator``; see ``emulator.config`` for its settings.
"""

__version__ = "0.1.0"
