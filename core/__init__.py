"""vectorctl's core: everything that is not drawing. Never imports Textual or `tui`."""
