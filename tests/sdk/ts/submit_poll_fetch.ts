// Drives the TypeScript client that @hey-api/openapi-ts generated from a running ocrgw's /v1/openapi.json:
// submit a document by multipart upload, poll the job until it ends, fetch the JSON result and the markdown
// export, list the caller's jobs and delete the job. tests/sdk/test_generated_typescript.py generates the client next to this
// file as ./client, compiles both with tsc and runs this with node; it prints one JSON line to check.
// Usage: node submit_poll_fetch.js <base url> <api key> <document path>
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { client } from './client/client.gen';
import { formDataBodySerializer } from './client/client';
import { deleteJob, exportJobResult, getJob, getJobResult, listJobs, submitJob } from './client/sdk.gen';
import type { Operation, SubmitForm, SubmitRequest } from './client/types.gen';

const TERMINAL = new Set<Operation['status']>(['succeeded', 'failed']);

async function main(): Promise<void> {
  const [baseUrl, apiKey, path] = process.argv.slice(2);
  // The spec's security schemes are X-API-Key and HTTP Bearer: the generated client sends the key for both.
  client.setConfig({ baseUrl, auth: () => apiKey });

  const form: SubmitForm = {
    file: new File([readFileSync(path)], basename(path), { type: 'application/octet-stream' }),
    languages: 'en',
  };
  const submitted = await submitJob({
    // submitJob accepts multipart, JSON and raw bodies; hey-api types it with the JSON variant only
    // (hey-api/hey-api#2311), so the multipart variant goes through its own FormData serializer, and
    // fetch sets the multipart Content-Type with its boundary.
    body: form as unknown as SubmitRequest,
    bodySerializer: formDataBodySerializer.bodySerializer,
    headers: { 'Content-Type': null },
    throwOnError: true,
  });
  if (submitted.response.status !== 202) throw new Error(`submit answered ${submitted.response.status}`);
  const location = submitted.response.headers.get('location');
  let op: Operation = submitted.data;

  const deadline = Date.now() + 60_000;
  let polls = 0;
  while (!TERMINAL.has(op.status)) {
    if (Date.now() > deadline) throw new Error(`job ${op.id} still ${op.status} after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    op = (await getJob({ path: { job_id: op.id }, throwOnError: true })).data;
    polls += 1;
  }

  const result = (await getJobResult({ path: { job_id: op.id }, query: { format: 'json' }, throwOnError: true }))
    .data;
  // The export formats, each as its file: the client parses by the response's Content-Type (text/markdown)
  const markdown = await exportJobResult({ path: { job_id: op.id, format: 'markdown' }, throwOnError: true });
  const markdownText = markdown.data instanceof Blob ? await markdown.data.text() : String(markdown.data);
  const listed = (await listJobs({ query: { status: 'succeeded', limit: 100 }, throwOnError: true })).data;
  const deleted = await deleteJob({ path: { job_id: op.id } });
  const after = await getJob({ path: { job_id: op.id } });

  console.log(JSON.stringify({
    id: op.id,
    location,
    status: op.status,
    polls,
    progress: op.progress,
    text: result.text,
    markdown: markdownText,
    markdownType: markdown.response.headers.get('content-type'),
    words: result.pages.flatMap((p) => p.lines.flatMap((l) => l.words)).length,
    listed: listed.items.some((item) => item.id === op.id),
    deleteStatus: deleted.response.status,
    afterDeleteStatus: after.response.status,
    afterDeleteCode: after.error?.error.code ?? null,
  }));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : JSON.stringify(err));
  process.exit(1);
});
