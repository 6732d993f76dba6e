"""Example applications deployed by mbops (the local target's default app lives in ``notes_app``)."""
