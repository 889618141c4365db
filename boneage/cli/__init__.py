"""Command-line tools, each ``python -m boneage.cli.<tool>``: evaluate, predict, interval, publish,
gate_eval, robustness, sheets, fonts."""
