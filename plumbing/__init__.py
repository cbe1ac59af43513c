"""Plumbing that index/, qa/ and server/ all stand on, and that imports none of them: where things are
(environment.py: the environment variables, the paths under var/ and the rules that derive one path from
another), writing files so a crash never leaves half of one (files.py), and where the log messages of
index/, qa/ and server/ go (messages.py).
"""
