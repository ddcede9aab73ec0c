"""Custom architectures. Each sub-package is self-contained remote code (torch + transformers only)."""
