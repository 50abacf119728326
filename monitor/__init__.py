"""BrandPulse: social listening and crisis monitoring daemon."""

__version__ = "0.1.0"
