"""What the command modules share: the user-error exception, exit codes and the choices they offer."""

from __future__ import annotations

PROFILES = ("sm-pc", "sm-apc", "mm-pc")
EXIT_UNSURE = 3  # `inspect` and `grade`: some face was not really seen, so no PASS/FAIL was given
# fibervlm.synth's names, repeated so the CLI starts without importing OpenCV (a test keeps them equal).
APPEARANCES = ("standard", "dark-cladding", "epoxy-ring", "halo", "camera")
FRAMES = ("base", "720x576", "1152x864")


class CommandError(Exception):
    """A failure the user can fix; `fibervlm.cli.main` prints it as one line, exit code 2."""
