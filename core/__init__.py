"""Haverford's domain logic: audio, features, Haverford's algorithm, the ConvNet and workflows.

Importing ``core`` is cheap on purpose: TensorFlow is only imported by ``core.model`` and
``core.train``, and Streamlit never.
"""

__version__ = "0.1.0"
