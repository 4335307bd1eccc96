"""Feeds stage: the feed list (YAML / OPML), HTTP polling and parsing into Stories."""
