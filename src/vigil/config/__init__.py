"""config stage: the YAML configuration, validated by pydantic (`load_config`)."""

from vigil.config.loader import (
    app_settings_error,
    format_validation_error,
    load_config,
    load_config_text,
    parse_config,
)
from vigil.config.schema import (
    AppConfig,
    DetectorConfig,
    LineConfig,
    OutputConfig,
    SourceConfig,
    VigilConfig,
    ZoneConfig,
)

__all__ = [
    "AppConfig",
    "DetectorConfig",
    "LineConfig",
    "OutputConfig",
    "SourceConfig",
    "VigilConfig",
    "ZoneConfig",
    "app_settings_error",
    "format_validation_error",
    "load_config",
    "load_config_text",
    "parse_config",
]
