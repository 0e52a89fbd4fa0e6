// ocrgw playground: one result page as a figure — the page image (or a blank sheet of the page's
// shape) under an SVG whose viewBox is the page in its own unit, so the API's quads are drawn as they
// are and the browser does the scaling to whatever size the page is shown at.

const SVG = "http://www.w3.org/2000/svg";

/** Confidence class: the colour bands the legend shows (green ≥ 0.9, amber ≥ 0.6, red below). */
export function confidenceClass(confidence) {
  if (confidence >= 0.9) return "conf-high";
  if (confidence >= 0.6) return "conf-mid";
  return "conf-low";
}

function polygon(bbox, className, testId) {
  const el = document.createElementNS(SVG, "polygon");
  const points = [];
  for (let i = 0; i + 1 < bbox.length; i += 2) points.push(`${bbox[i]},${bbox[i + 1]}`);
  el.setAttribute("points", points.join(" "));
  el.setAttribute("class", className);
  el.dataset.testid = testId;
  return el;
}

/** The word written into its box (font size from the box's height, stretched to its width). */
function wordText(word) {
  const xs = word.bbox.filter((_, i) => i % 2 === 0);
  const ys = word.bbox.filter((_, i) => i % 2 === 1);
  const [left, right, top, bottom] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const text = document.createElementNS(SVG, "text");
  text.setAttribute("x", String(left));
  text.setAttribute("y", String(bottom - (bottom - top) * 0.2));
  text.setAttribute("font-size", String((bottom - top) * 0.8));
  if (right > left) {
    text.setAttribute("textLength", String(right - left));
    text.setAttribute("lengthAdjust", "spacingAndGlyphs");
  }
  text.textContent = word.text;
  return text;
}

function percent(confidence) {
  return `${(confidence * 100).toFixed(1)} %`;
}

/**
 * A <figure> for `page` (an item of the result's pages[]). `imageSrc` is a URL of the page's picture
 * when the browser may be able to show it (page 1 of an image job); without one, or when the browser
 * cannot decode it (TIFF in most browsers), the boxes go on a blank sheet with a note saying why.
 * `onWord(word | null)` is told which word the pointer is over.
 */
export function renderPage(page, { imageSrc, onWord }) {
  const figure = document.createElement("figure");
  figure.className = "page";
  figure.dataset.testid = "page";
  figure.dataset.page = String(page.page);

  const sheet = document.createElement("div");
  sheet.className = "sheet";
  sheet.style.aspectRatio = `${page.width} / ${page.height}`;
  figure.append(sheet);

  const caption = document.createElement("figcaption");
  const unit = page.unit === "inch" ? "in" : "px";
  const size = `${+page.width.toFixed(2)} × ${+page.height.toFixed(2)} ${unit}`;
  const words = page.lines.reduce((n, line) => n + line.words.length, 0);
  caption.textContent = `Page ${page.page} · ${size} · ${page.lines.length} lines, ${words} words`;
  const note = document.createElement("span");
  note.className = "note";
  note.dataset.testid = "page-note";
  caption.append(note);
  figure.append(caption);

  const blank = (why) => {
    sheet.classList.add("blank");
    note.textContent = ` · ${why}`;
  };
  if (imageSrc) {
    const img = document.createElement("img");
    img.className = "page-image";
    img.dataset.testid = "page-image";
    img.alt = `Page ${page.page} as submitted`;
    img.addEventListener("error", () => {
      img.remove();
      blank("this browser cannot show the document's image format, so the boxes are drawn on a blank page");
    });
    img.src = imageSrc;
    sheet.append(img);
  } else if (page.unit === "inch") {
    blank("PDF pages are not rendered here: the boxes are drawn on a blank page of the same size");
  } else {
    blank("the boxes are drawn on a blank page of the image's size");
  }

  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${page.width} ${page.height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "overlay");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Line and word boxes of page ${page.page}`);
  svg.dataset.testid = "overlay";
  const lineGroup = document.createElementNS(SVG, "g");
  lineGroup.setAttribute("class", "lines");
  const wordGroup = document.createElementNS(SVG, "g");
  wordGroup.setAttribute("class", "words");
  const textGroup = document.createElementNS(SVG, "g");
  textGroup.setAttribute("class", "word-texts"); // shown only on a blank sheet, where there is no picture
  textGroup.setAttribute("aria-hidden", "true");
  let index = 0;
  page.lines.forEach((line, li) => {
    const lineBox = polygon(line.bbox, "line-box", "line-box");
    lineBox.dataset.line = String(li);
    lineGroup.append(lineBox);
    for (const word of line.words) {
      const box = polygon(word.bbox, `word-box ${confidenceClass(word.confidence)}`, "word-box");
      box.dataset.index = String(index++);
      box.dataset.line = String(li);
      box.dataset.confidence = String(word.confidence);
      box.dataset.text = word.text;
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${word.text} — ${percent(word.confidence)}`;
      box.append(title);
      box.addEventListener("pointerenter", () => onWord(word));
      box.addEventListener("pointerleave", () => onWord(null));
      wordGroup.append(box);
      textGroup.append(wordText(word));
    }
  });
  svg.append(lineGroup, textGroup, wordGroup);
  sheet.append(svg);
  return figure;
}

export { percent };
