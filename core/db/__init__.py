"""The SQL side: typed models compatible with the image-search service, sessions, migrations."""
