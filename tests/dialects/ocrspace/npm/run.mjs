// Calls the npm OCR.space client (ocr-space-api-wrapper, pinned in package.json) exactly as its README
// shows, so the Python tests check ocrgw against the real Node client rather than a re-implementation.
//
//   node run.mjs <server base URL> <api key> <file path, or URL in url mode> <file|base64|url>
//
// Prints the service's JSON result to stdout and exits 0. When the wrapper throws (axios rejects any
// non-2xx), prints {"thrown": {"message", "status", "data"}} to stdout and exits 2, so the caller can
// check what a Node user would see (OCR.space's 403 carries a bare JSON string as its body).
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ocrSpace } from 'ocr-space-api-wrapper';

const MIME = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.tif': 'image/tiff',
  '.tiff': 'image/tiff', '.gif': 'image/gif', '.bmp': 'image/bmp', '.pdf': 'application/pdf' };

const [base, apiKey, source, mode] = process.argv.slice(2);
if (!base || apiKey === undefined || !source || !['file', 'base64', 'url'].includes(mode)) {
  console.error('usage: node run.mjs <base URL> <api key> <file path | URL> <file|base64|url>');
  process.exit(64);
}

let input = source;
if (mode === 'base64') {
  const mime = MIME[extname(source).toLowerCase()] || 'application/octet-stream';
  input = `data:${mime};base64,${readFileSync(source).toString('base64')}`;
}

// Exit as soon as the output is written: after the url/base64 requests (text-only multipart) Node otherwise
// lingers on the idle keep-alive socket until the server closes it (uvicorn: 5 s), though the call itself
// has long returned. That is client-side and would only slow the tests down.
const done = (out, code) => process.stdout.write(JSON.stringify(out), () => process.exit(code));

try {
  const res = await ocrSpace(input, { apiKey, ocrUrl: base + '/parse/image', isOverlayRequired: true, language: 'eng' });
  done(res, 0);
} catch (error) {
  const thrown = { message: String(error && error.message), status: error?.response?.status ?? null,
    data: error?.response?.data ?? null };
  done({ thrown }, 2);
}
