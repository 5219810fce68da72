"""worldmodel: video world models from naturally paired data (AdaSSL in a JEPA-style pipeline)."""

__version__ = "0.1.0"
