"""`python -m mock_server` runs the same command as `gamifyhost-mock`."""
from .cli import main

main(prog_name="gamifyhost-mock")
