"""User-facing errors: each carries one line that names the problem (file, key, value)."""


class VigilError(Exception):
    """An error the CLI reports as one line and exit code 2, never a traceback."""


class ConfigError(VigilError):
    """The YAML configuration is malformed or invalid."""


class SourceError(VigilError):
    """A video source is missing, empty, undecodable or unreachable."""


class ModelError(VigilError):
    """A model file is missing or has unexpected inputs/outputs."""
