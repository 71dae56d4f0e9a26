"""The directory that ``reprotorch run`` puts first on ``PYTHONPATH``.

It holds only ``sitecustomize.py``, so putting it on the path shadows no other
module. This ``__init__`` exists so that packaging tools ship the directory
with the wheel; Python never imports it when the directory is a path entry.
"""
