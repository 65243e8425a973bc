"""``python -m droneaudit``."""

from droneaudit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
