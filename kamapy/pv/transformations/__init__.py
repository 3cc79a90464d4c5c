"""Transformations: `{class.name,params}` applied to a PV value, chained left to right.

One module per class (string.py = s.*, uri.py, param.py, nameaddr.py (+ tobody.*),
line.py); chain.py parses a `{...}` into a step closure.
"""
