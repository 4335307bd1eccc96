"""The alerts stage: render an alert (formatter) and post it (slack, console)."""
