#!/usr/bin/env python3
"""The CDK app: `python app.py` (or `npx cdk synth`) synthesizes TripSagaStack offline, checked by cdk-nag."""

from __future__ import annotations

import sys
from pathlib import Path

# The stack imports the table and index names from the Lambda code (src/services/trip/schema.py).
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

import aws_cdk as cdk

from infra.function_layer import LayerNotBuilt
from infra.nag import add_nag_checks
from infra.settings import SettingsError, StackSettings
from infra.stack import STACK_NAME, TripSagaStack


def build_app(app: cdk.App) -> TripSagaStack:
    """Add the stack, with the settings from the app's context, and the cdk-nag checks to `app`."""
    add_nag_checks(app)
    return TripSagaStack(app, STACK_NAME, settings=StackSettings.from_context(app.node.try_get_context))


# The exit code of a context value the stack does not accept: one `error:` line, as for a command-line mistake.
BAD_CONTEXT_EXIT = 2

if __name__ == "__main__":
    app = cdk.App()
    try:
        build_app(app)
    except SettingsError as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(BAD_CONTEXT_EXIT)
    except LayerNotBuilt as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(1)
    app.synth()
