"""Vision-language transformers with pluggable knowledge fusion."""
