"""Desktop-only parts: the write-back action and dialogs, the install offer, the weight field widget."""
