"""The lab: the article's mathematics with a drawing's own numbers in it, for the explorer.

- equations.py: one equation's terms for one cell (POST /equation);
- check.py: one gradient checked against a central difference (POST /check);
- nudge.py: gradient steps on the drawing towards a chosen digit (POST /nudge).

Each reads the reference (model/network.py) and nothing else of the package imports it.
"""
