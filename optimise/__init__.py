"""OR-Tools optimisation models as pure functions: problem arrays in, a small frozen result out.

This package never imports ``mobility`` or SUMO; it speaks numpy arrays and dataclasses.
"""
