"""OCR.space dialect: `POST /parse/image`, `GET /parse/imageurl` and the searchable PDFs they link to,
answered synchronously in OCR.space's JSON (ParsedResults, OCRExitCode, ErrorMessage as a list)."""
