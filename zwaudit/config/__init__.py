"""Configuration: YAML under a config directory, validated on load with one-line errors."""

from zwaudit.config.loader import Config, load_config
from zwaudit.config.schema import PortalProfile, SecretRef, Settings

__all__ = ["Config", "PortalProfile", "SecretRef", "Settings", "load_config"]
