"""OCR engines behind one small interface; a worker process keeps one warm instance per language set."""
