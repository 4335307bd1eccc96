"""The command line's grammar: commands, options and their help. Handlers live in cli.py."""

from __future__ import annotations

import argparse

from daemon import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sanctionwatch",
        description="Watch news feeds for sanctions-relevant events and alert analysts in Slack.",
    )
    parser.add_argument("--version", action="version", version=f"sanctionwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="the daemon: scheduler, delivery, health").set_defaults(
        handler="run"
    )
    sub.add_parser("once", help="one full cycle, then exit").set_defaults(handler="once")

    rules = sub.add_parser("rules", help="check and try rule files")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    check = rules_sub.add_parser("check", help="validate rule files and run their examples")
    check.add_argument("path", nargs="?", help="rules folder or file [SANCTIONWATCH_RULES]")
    check.set_defaults(handler="rules_check")
    test = rules_sub.add_parser("test", help="match stories (JSONL) and explain every hit")
    test.add_argument("file", nargs="?", help="JSONL stories (default: standard input)")
    test.add_argument("--format", choices=["text", "jsonl"], default="text")
    test.set_defaults(handler="rules_test")
    backtest = rules_sub.add_parser(
        "backtest", help="what these rules would have alerted on stored stories, vs what did"
    )
    backtest.add_argument("path", nargs="?", help="rules folder or file [SANCTIONWATCH_RULES]")
    backtest.add_argument("--since", default="30d", help="a duration such as 24h, 7d, 30d")
    backtest.add_argument("--format", choices=["table", "jsonl"], default="table")
    backtest.set_defaults(handler="rules_backtest")

    lists = sub.add_parser("lists", help="term lists")
    lists_sub = lists.add_subparsers(dest="lists_command", required=True, metavar="SUBCOMMAND")
    lists_import = lists_sub.add_parser(
        "import", help="write a term list from a public sanctions list"
    )
    lists_import.add_argument("format", choices=["un", "ofac", "opensanctions"])
    lists_import.add_argument("source", help="the downloaded list (OFAC CSV: sdn.csv)")
    lists_import.add_argument("name", help="the list's name, as rules refer to it")
    lists_import.add_argument("--out", help="[SANCTIONWATCH_RULES/lists/NAME.yaml]")
    lists_import.set_defaults(handler="lists_import")

    evaluate = sub.add_parser("eval", help="precision / recall / F1 against labelled stories")
    evaluate.add_argument("files", nargs="+", metavar="FILE")
    evaluate.add_argument("--format", choices=["table", "json"], default="table")
    evaluate.set_defaults(handler="eval")

    feeds = sub.add_parser("feeds", help="list and edit the feed list")
    feeds_sub = feeds.add_subparsers(dest="feeds_command", required=True, metavar="SUBCOMMAND")
    feeds_list = feeds_sub.add_parser("list", help="feeds and their health")
    feeds_list.add_argument("--format", choices=["table", "json"], default="table")
    feeds_add = feeds_sub.add_parser("add", help="add a feed to the feed list")
    feeds_add.add_argument("url")
    feeds_add.add_argument("--name")
    feeds_add.add_argument("--interval")
    feeds_add.add_argument("--fulltext", action="store_true")
    feeds_add.add_argument("--tag", action="append", default=[], dest="tags")
    feeds_remove = feeds_sub.add_parser("remove", help="remove a feed from the feed list")
    feeds_remove.add_argument("url")
    feeds_import = feeds_sub.add_parser("import", help="add the feeds of an OPML file")
    feeds_import.add_argument("file")
    feeds_sub.add_parser("export", help="print the feed list as OPML")
    feeds.set_defaults(handler="feeds")

    hits = sub.add_parser("hits", help="recorded hits")
    hits.add_argument("--since", default="24h", help="a duration such as 30m, 24h, 7d")
    hits.add_argument("--format", choices=["table", "jsonl"], default="table")
    hits.set_defaults(handler="hits")

    status = sub.add_parser("status", help="feeds' health, outbox, last cycle")
    status.add_argument("--format", choices=["table", "json"], default="table")
    status.set_defaults(handler="status")

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    db_sub.add_parser("upgrade", help="migrate the schema").set_defaults(handler="db_upgrade")
    return parser
