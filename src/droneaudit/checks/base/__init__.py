"""Always-on checks."""
