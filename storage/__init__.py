"""Files on disk: receiving uploads from streamed request bodies, and serving them."""
