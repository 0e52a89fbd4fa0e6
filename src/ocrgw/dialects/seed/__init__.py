"""The seed systems' own APIs, for code written against the tutorials ocrgw grew from: the Flask-style
API (`/ocr_process`, `/batch_process`, `/generate_api_key`) and the streaming server's `POST /{api_name}`.
Each is a thin synchronous dialect over the same job core as the vendor APIs."""
