"""prefect-sora: the Prefect integration for the Sora 2 text-to-video API."""

__version__ = "0.1.0"
