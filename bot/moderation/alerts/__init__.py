"""Stream's moderation findings as alert cards in Slack (issue 15): findings.py reads the events,
record.py holds an alert, render.py draws cards, desk.py posts and coalesces them, decisions.py
is the card's buttons."""
