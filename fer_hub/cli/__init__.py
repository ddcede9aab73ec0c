"""The `fer-hub` console script: `main` builds the parser, each command lives in its own module."""
