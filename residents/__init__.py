"""Resident attributes (受信設定): each resident's current answers, their history and a blind index."""
