"""Regenerate what the zoo publishes, from the current code: `model_cards/NAME.md` (the card `fer-hub push` uploads
for each trained model) and `spaces/fer-demo/` (the Space's own files as `fer-hub push-space` uploads them).

    python train/hub_files.py            # rewrite model_cards/ and spaces/fer-demo/
    python train/hub_files.py --check    # exit 1 if a file is not the generated one
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer_hub.hub.published import MODEL_CARDS, SPACE, published_files, stale_files

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that every file is the generated one")
    args = parser.parse_args()
    if args.check:
        stale = stale_files(ROOT)
        for path in stale:
            print(f"{path}: not what `fer-hub card` / `fer-hub push-space` generate; run python train/hub_files.py")
        sys.exit(1 if stale else 0)
    files, missing = published_files()
    for folder in (MODEL_CARDS, SPACE):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.relative_to(ROOT) not in files:
                path.unlink()
    for path, data in files.items():
        (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / path).write_bytes(data)
    print(f"wrote {len(files)} files" + (f"; no weights here for {', '.join(missing)}" if missing else ""))


if __name__ == "__main__":
    main()
