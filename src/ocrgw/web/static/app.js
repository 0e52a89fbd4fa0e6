// ocrgw playground: the page's controller. Submit a document to the native API, poll its progress,
// then show the pages with their boxes, the text, and the export downloads. The page's state is kept
// on <body data-state> (idle, submitting, queued, running, succeeded, failed) for people's CSS and tests.

import * as api from "./api.js";
import { percent, renderPage } from "./overlay.js";

const KEY_STORAGE = "ocrgw.playground.apiKey";
const POLL_MS = 400;
const POLL_MAX_MS = 2000;
const FORMATS = [
  // [format, label, file extension]
  ["json", "JSON", "json"],
  ["text", "Text", "txt"],
  ["hocr", "hOCR", "hocr.html"],
  ["alto", "ALTO", "alto.xml"],
  ["tsv", "TSV", "tsv"],
  ["pdf", "Searchable PDF", "pdf"],
];

const $ = (id) => document.getElementById(id);
const el = {
  form: $("job-form"), key: $("api-key"), drop: $("drop-zone"), file: $("file-input"), fileName: $("file-name"),
  url: $("doc-url"), languages: $("languages"), pages: $("pages"), order: $("reading-order"), mode: $("mode"),
  pdf: $("searchable-pdf"), submit: $("submit"), progress: $("progress"), status: $("status"), error: $("error"),
  result: $("result"), pageList: $("page-list"), text: $("result-text"), downloads: $("downloads"),
  wordInfo: $("word-info"), showLines: $("show-lines"), showWords: $("show-words"),
};

let chosenFile = null;
let imageUrl = null; // object URL of the chosen file, revoked when another is chosen
let run = 0; // bumped by every submit, so an older job's polling stops touching the page

function setState(state) {
  document.body.dataset.state = state;
}

function showError(err) {
  el.error.textContent = err instanceof api.ApiError ? err.describe() : String(err && err.message ? err.message : err);
  el.error.hidden = false;
}

function clearError() {
  el.error.hidden = true;
  el.error.textContent = "";
}

// ------------------------------------------------------------------------------------------ inputs
function chooseFile(file) {
  chosenFile = file || null;
  if (imageUrl) URL.revokeObjectURL(imageUrl);
  imageUrl = chosenFile ? URL.createObjectURL(chosenFile) : null;
  el.fileName.textContent = chosenFile ? `${chosenFile.name} (${Math.ceil(chosenFile.size / 1024)} KiB)` : "";
  el.drop.classList.toggle("has-file", !!chosenFile);
  if (chosenFile) el.url.value = "";
}

el.file.addEventListener("change", () => chooseFile(el.file.files[0]));
el.url.addEventListener("input", () => {
  if (el.url.value.trim() && chosenFile) {
    el.file.value = "";
    chooseFile(null);
  }
});
for (const type of ["dragenter", "dragover"]) {
  el.drop.addEventListener(type, (event) => {
    event.preventDefault();
    el.drop.classList.add("dragging");
  });
}
for (const type of ["dragleave", "drop"]) {
  el.drop.addEventListener(type, () => el.drop.classList.remove("dragging"));
}
el.drop.addEventListener("drop", (event) => {
  event.preventDefault();
  const file = event.dataTransfer && event.dataTransfer.files[0];
  if (file) chooseFile(file);
});

el.key.value = localStorage.getItem(KEY_STORAGE) || "";
el.key.addEventListener("input", () => localStorage.setItem(KEY_STORAGE, el.key.value.trim()));

el.showLines.addEventListener("change", () => el.pageList.classList.toggle("hide-lines", !el.showLines.checked));
el.showWords.addEventListener("change", () => el.pageList.classList.toggle("hide-words", !el.showWords.checked));

async function loadLanguages() {
  try {
    const info = await api.languages();
    el.languages.options[0].textContent = info.detect
      ? `Detect (read with ${info.default} first)`
      : `Server default (${info.default})`;
    for (const lang of info.languages) {
      const option = document.createElement("option");
      option.value = lang.model;
      option.textContent = lang.codes.length ? `${lang.model} (${lang.codes.join(", ")})` : lang.model;
      el.languages.append(option);
    }
    el.languages.dataset.loaded = "true";
  } catch (err) {
    showError(err);
  }
}

// ------------------------------------------------------------------------------------------ a job
function options() {
  const opts = { reading_order: el.order.value, searchable_pdf: el.pdf.checked };
  if (el.languages.value) opts.languages = el.languages.value;
  if (el.mode.value) opts.mode = el.mode.value;
  if (el.pages.value.trim()) opts.pages = el.pages.value.trim();
  return opts;
}

function showProgress(op) {
  const { pages_done: done, pages_total: total } = op.progress;
  el.progress.hidden = false;
  if (total) {
    el.progress.max = total;
    el.progress.value = done;
  } else {
    el.progress.removeAttribute("value"); // indeterminate until the page count is known
  }
  el.status.textContent = total ? `${op.status}: ${done} of ${total} pages read` : `${op.status}…`;
  setState(op.status);
}

async function waitFor(key, op, mine) {
  let delay = POLL_MS;
  while (op.status === "queued" || op.status === "running") {
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (mine !== run) return null;
    op = await api.job(key, op.id);
    if (mine !== run) return null;
    showProgress(op);
    delay = Math.min(delay * 1.25, POLL_MAX_MS);
  }
  return op;
}

el.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const key = el.key.value.trim();
  const docUrl = el.url.value.trim();
  if (!chosenFile && !docUrl) {
    showError(new Error("Choose or drop a file, or give a URL."));
    return;
  }
  const mine = ++run;
  const image = chosenFile ? imageUrl : docUrl;
  const withPdf = el.pdf.checked;
  el.result.hidden = true;
  el.submit.disabled = true;
  setState("submitting");
  el.status.textContent = "Uploading…";
  el.progress.hidden = false;
  el.progress.removeAttribute("value");
  try {
    let op = await api.submit(key, { file: chosenFile, docUrl, options: options() });
    el.result.dataset.jobId = op.id;
    showProgress(op);
    op = await waitFor(key, op, mine);
    if (op === null) return;
    if (op.status === "failed") {
      const err = op.error || { code: "Failed", message: "The document could not be read." };
      throw new api.ApiError(0, err.code, err.message, err.param);
    }
    const res = await api.result(key, op.id);
    if (mine !== run) return;
    showResult(key, res, image, withPdf);
    el.status.textContent = `succeeded: ${op.progress.pages_done} of ${op.progress.pages_total} pages read`;
    setState("succeeded");
  } catch (err) {
    if (mine !== run) return;
    showError(err);
    el.status.textContent = "";
    el.progress.hidden = true;
    setState("failed");
  } finally {
    if (mine === run) el.submit.disabled = false;
  }
});

// ------------------------------------------------------------------------------------------ the result
function showWord(word) {
  el.wordInfo.textContent = word ? `“${word.text}” — confidence ${percent(word.confidence)}`
    : "Point at a word to see its confidence.";
}

function showResult(key, res, image, withPdf) {
  el.pageList.replaceChildren(...res.pages.map((page) => renderPage(page, {
    imageSrc: page.unit === "pixel" && page.page === 1 ? image : null,
    onWord: showWord,
  })));
  el.text.textContent = res.text;
  el.downloads.replaceChildren(...FORMATS.map(([format, label, ext]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.dataset.testid = `download-${format}`;
    button.dataset.format = format;
    if (format === "pdf" && !withPdf) {
      button.disabled = true;
      button.title = "Submit with “Also make a searchable PDF” to get one.";
    }
    button.addEventListener("click", () => download(key, res.id, format, ext, button));
    return button;
  }));
  el.result.dataset.jobId = res.id;
  el.result.hidden = false;
}

async function download(key, id, format, ext, button) {
  clearError();
  button.disabled = true;
  try {
    const blob = await api.exportBlob(key, id, format);
    const href = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = href;
    link.download = `${id}.${ext}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60_000);
    button.dataset.contentType = blob.type;
    button.dataset.size = String(blob.size);
  } catch (err) {
    showError(err);
  } finally {
    button.disabled = false;
  }
}

setState("idle");
loadLanguages();
