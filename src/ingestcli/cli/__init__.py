"""The command line: each command parses, calls one service function and renders; named
errors become one line and an exit code in cli/exits.py only."""
