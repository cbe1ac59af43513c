"""Plumbing that index/, qa/ and server/ all stand on, and that imports none of them: where things are
(environment.py: the environment variables, the paths under var/ and the rules that derive one path from
another) and writing files so a crash never leaves half of one (files.py).
"""
