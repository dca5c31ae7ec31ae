"""Haverford: label music, train a ConvNet and check it against people's judgement.

The repository's top-level folders install as the subpackages of this one package:
``core/`` is ``haverford.core`` (domain logic and the command line), ``db/`` is
``haverford.db`` (SQLite persistence) and ``dashboard/`` is ``haverford.dashboard``
(the Streamlit app). Dependencies point one way: dashboard → core → db.
"""

__version__ = "0.2.0"
