"""sanctionwatch: watch news feeds for sanctions-relevant events and alert analysts in Slack."""

DISTRIBUTION = "sanctionwatch"
__version__ = "0.1.0"
