"""Writing cluster fields into the user's own layer: undoable edits and single transactions."""
