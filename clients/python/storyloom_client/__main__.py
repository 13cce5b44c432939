"""`python -m storyloom_client` runs the CLI (the `storyloom-cli` command)."""

from .cli import main

main()
