"""hegui (合规): a compliance engine for generative-AI services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hegui")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = ["__version__"]
