"""Worker side, beside ``rapid.py``: PP-OCR model files derived once from the ones inside the pinned
``rapidocr`` wheel, so the second engine reads English at less CPU without downloading anything. Nothing
here is fetched; every file is computed from the packaged ONNX file and written to a cache folder.

* ``latin_recognizer`` - the recogniser with its output layer cut to the Latin-script alphabet (and the
  punctuation, symbols and full-width ASCII forms around it): 1,576 of its 18,710 classes. The layer, its
  softmax and the decoder's argmax over 18,710 columns per time step were ~20-25 % of a line's CPU. Only
  for jobs whose languages are all Latin-script (``eng``); a job with ``chi_sim`` keeps the whole model.
* ``int8_detector`` - the detector's convolutions quantised to int8 (static, QDQ, per channel), calibrated
  on pages drawn here (Pillow's bundled font, seeded), not on any evaluation image. Convolutions are 86 %
  of the detector's time, and int8 ones run ~2.5-3x faster on this CPU (AVX-512 VNNI).
* ``int8_recognizer`` - the (Latin) recogniser's pointwise (1x1) convolutions, the MLPs of its blocks and
  ~60 % of its time, turned into matrix products over the channels and quantised dynamically: weights
  int8 per output channel, each call's activations to uint8 at their own range (no calibration set to be
  wrong about a line it never saw). ~1.6x faster a line where the CPU multiplies int8 natively (VNNI or
  AMX: ``native_int8``); elsewhere the float recogniser stays, since ONNX Runtime's int8 products without
  VNNI can saturate. It reads a little worse (ocr-dev, accurate mode: +0.3 % character errors, +3 % line
  errors), so it is used only when ``Settings.ppocr_int8`` asks. Static quantisation of the same
  convolutions was 1.25x and changed more readings (bench/README ``ppocr.py``).

``derived`` makes a file on first use, in a child process and under a lock (two workers starting together
make it once), and returns its path, or None when it cannot (no ``onnx`` package, an unwritable folder):
the caller then reads with the packaged model, so a failure here costs speed, never a job."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Code point ranges the Latin recogniser keeps: Basic Latin to Latin Extended-B, Greek (µ, Ω), general
# punctuation to arrows and maths (dashes, quotes, bullets, currency, ™, №, superscripts), enclosed
# alphanumerics, shapes and dingbats (■ ● ★ ✓), and the full-width ASCII forms the model writes for some
# brackets and commas (NFKC maps them back). 1,576 of the model's 18,708 characters.
LATIN_RANGES = ((0x20, 0x250), (0x370, 0x400), (0x2000, 0x2300), (0x2460, 0x2500), (0x25A0, 0x2800), (0xFF01, 0xFF5F))
# Bump when a derivation changes, so caches made by older code are not reused.
_RECIPE = "1"
# Making the int8 detector takes ~15 s on an idle core (calibration over five drawn pages); a minute under load.
_MAKE_TIMEOUT_S = 900


def latin_recognizer(src: Path, dst: Path) -> None:
    """Write ``src`` (a PP-OCR CTC recogniser whose last layers are MatMul + Add + Softmax over the
    alphabet in its ``character`` metadata) with that layer's columns cut to ``LATIN_RANGES``: blank first,
    the kept characters, the space last, as the library's decoder expects."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    meta = {p.key: p for p in model.metadata_props}
    chars = meta["character"].value.splitlines()
    keep = [i for i, c in enumerate(chars) if c and any(a <= ord(c[0]) < b for a, b in LATIN_RANGES)]
    cols = [0, *(i + 1 for i in keep), len(chars) + 1]
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax" and n.output[0] == model.graph.output[0].name)
    producers = {o: n for n in model.graph.node for o in n.output}
    node, weight, bias = producers[softmax.input[0]], None, None
    while weight is None:  # back from the softmax through Identity and Add (bias) to the MatMul
        if node.op_type == "Add":
            bias = node.input[1]
        elif node.op_type == "MatMul":
            weight = node.input[1]
        node = producers[node.input[0]]
    inits = {t.name: t for t in model.graph.initializer}
    width = len(chars) + 2
    for name in (weight, bias):
        if name is None:
            continue
        arr = numpy_helper.to_array(inits[name])
        if arr.shape[-1] != width:
            raise ValueError(f"{src.name}: {name} has {arr.shape[-1]} columns, the alphabet {width}")
        inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(arr[..., cols]), name))
    meta["character"].value = "\n".join(chars[i] for i in keep)
    model.graph.output[0].type.tensor_type.shape.dim[2].dim_value = len(cols)
    del model.graph.value_info[:]
    onnx.save(model, str(dst))


def calibration_pages(seed: int = 0) -> Iterator[np.ndarray]:
    """Grey pages of drawn text for the detector's calibration: a book page, a receipt, a form with
    boxes, large headings and a dim, noisy scan, text 9-40 px high. Seeded: the same pages every time."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;-/()%$#&*'"
    specs = [  # width, height, text sizes, paper, ink, columns, boxes
        (1000, 1300, (12, 18), 255, 0, 1, False),
        (640, 1400, (14, 22), 245, 40, 1, False),
        (760, 1000, (9, 14), 255, 20, 2, True),
        (1280, 900, (24, 40), 250, 0, 1, False),
        (900, 1200, (11, 16), 200, 60, 2, False),
    ]
    for width, height, (lo, hi), paper, ink, columns, boxes in specs:
        img = Image.new("L", (width, height), paper)
        draw = ImageDraw.Draw(img)
        y = int(rng.integers(20, 60))
        while y < height - hi - 20:
            size = int(rng.integers(lo, hi + 1))
            font = ImageFont.load_default(size=size)
            for col in range(columns):
                x = 20 + col * width // columns + int(rng.integers(0, 40))
                end = (col + 1) * width // columns - 20
                while x < end - 3 * size:
                    word = "".join(rng.choice(list(alphabet), int(rng.integers(1, 10))))
                    draw.text((x, y), word, fill=ink, font=font)
                    x += int(draw.textlength(word, font=font)) + size // 2 + int(rng.integers(0, size))
                    if rng.random() < 0.08:
                        break
                if boxes and rng.random() < 0.3 and x + 8 * size < end:
                    draw.rectangle((x - 4, y - 4, x + 8 * size, y + size + 6), outline=ink)
            y += int(size * rng.uniform(1.3, 2.6))
        page = np.asarray(img, dtype=np.float64)
        if paper < 240:
            page = page + rng.normal(0, 12, page.shape)
        yield np.clip(page, 0, 255).astype(np.uint8)


def int8_detector(src: Path, dst: Path, limit_side: int = 1280) -> None:
    """Write ``src`` (the PP-OCR DB detector, input ``x`` of N x 3 x H x W) with its convolutions in int8:
    opset raised to 13 (per-channel DequantizeLinear needs it), the ONNX Runtime quantiser's shape
    preprocessing, then static QDQ quantisation, activations uint8 and weights int8 per channel, with
    min/max ranges from ``calibration_pages`` fed as the library's detector feeds a page (``limit_side``)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    prep = DetPreProcess(limit_side, "max", [0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    feeds = [prep(np.repeat(page[:, :, None], 3, axis=2)) for page in calibration_pages()]

    class Pages(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self) -> dict | None:
            x = next(self._it, None)
            return None if x is None else {"x": x}

    with tempfile.TemporaryDirectory() as tmp:
        op13, pre = Path(tmp) / "op13.onnx", Path(tmp) / "pre.onnx"
        onnx.save(version_converter.convert_version(onnx.load(str(src)), 13), str(op13))
        quant_pre_process(str(op13), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(dst),
            Pages(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv"],
            calibrate_method=CalibrationMethod.MinMax,
        )


def native_int8(flags: Iterable[str] | None = None) -> bool:
    """Whether this CPU multiplies int8 natively (AVX-512 VNNI, AVX-VNNI or AMX), which the int8 recogniser
    needs to be fast and exact: without VNNI, ONNX Runtime's uint8 x int8 products go through 16-bit sums
    that can saturate. ``flags``: the CPU's, read from Linux's /proc/cpuinfo when not given (elsewhere: no)."""
    if flags is None:
        try:
            with open("/proc/cpuinfo") as f:
                flags = next((line.split(":", 1)[-1].split() for line in f if line.startswith("flags")), [])
        except OSError:
            flags = []
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags))


def int8_recognizer(src: Path, dst: Path) -> None:
    """Write ``src`` (a PP-OCR recogniser, N x 3 x 48 x W) with each 1x1 convolution (group 1, stride 1, no
    padding) as Transpose to channels-last, MatMul by the transposed kernel, the bias added, Transpose back;
    then those MatMuls quantised dynamically by onnxruntime's quantiser (int8 weights per output column,
    uint8 activations scaled per call), which ONNX Runtime runs as one DynamicQuantizeMatMul each. Other
    convolutions (3x3, depthwise), attention and the output layer stay float."""
    import onnx
    from onnx import helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes, matmuls = [], []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        conv = node.op_type == "Conv" and node.input[1] in inits
        kernel = numpy_helper.to_array(inits[node.input[1]]) if conv else None
        if (
            kernel is None
            or kernel.shape[2:] != (1, 1)
            or attrs.get("group", 1) != 1
            or any(v != 1 for v in (*attrs.get("strides", ()), *attrs.get("dilations", ())))
            or any(attrs.get("pads", ()))
        ):
            nodes.append(node)
            continue
        base = node.name or node.output[0]
        weight = numpy_helper.from_array(np.ascontiguousarray(kernel[:, :, 0, 0].T), f"{base}/pointwise_weight")
        graph.initializer.append(weight)
        last = f"{base}/channels_last"
        nodes.append(helper.make_node("Transpose", [node.input[0]], [last], perm=[0, 2, 3, 1], name=f"{base}/to_nhwc"))
        product = f"{base}/product"
        nodes.append(helper.make_node("MatMul", [last, weight.name], [product], name=f"{base}/pointwise"))
        matmuls.append(f"{base}/pointwise")
        if len(node.input) > 2 and node.input[2]:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [f"{product}+bias"], name=f"{base}/bias"))
            product += "+bias"
        back = helper.make_node("Transpose", [product], [node.output[0]], perm=[0, 3, 1, 2], name=f"{base}/to_nchw")
        nodes.append(back)
    if not matmuls:
        raise ValueError(f"{src.name}: no 1x1 convolution to quantise")
    used = {name for node in nodes for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.node[:], graph.initializer[:]
    graph.node.extend(nodes)
    graph.initializer.extend(kept)
    with tempfile.TemporaryDirectory() as tmp:
        pointwise = Path(tmp) / "pointwise.onnx"
        onnx.save(model, str(pointwise))
        quantize_dynamic(
            str(pointwise),
            str(dst),
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=matmuls,
            per_channel=True,
            weight_type=QuantType.QInt8,
            extra_options={"MatMulConstBOnly": True},
        )


def _content_digest(path: Path) -> str:
    """SHA-256 of a model file: ~20 ms for the two packaged files, once per worker process."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def derived(src: Path, recipe: str, cache: Path) -> Path | None:
    """The file ``RECIPES[recipe]`` makes from ``src``, kept in ``cache`` and made on first use: named by
    the source's content (not its path or mtime, which every fresh virtualenv changes: each clean clone
    made and kept a new ~15 MB pair), the recipe's version and onnxruntime's; made in a child process (the
    calibration's ~1 GB of activations never lands in a worker's memory), written under a temporary name
    and renamed, under an exclusive lock so workers starting together make it once. Files of older
    versions are left in place (a worker of another install may still open one). None when it cannot
    be made (logged): the caller reads with ``src`` then."""
    import onnxruntime

    # and onnxruntime's version: its quantiser wrote the file, a newer one remakes it
    key = f"{src.name}:{_content_digest(src)}:{recipe}:{_RECIPE}:{onnxruntime.__version__}"
    tag = hashlib.sha256(key.encode()).hexdigest()
    out = cache / f"{src.stem}.{recipe}.{tag[:12]}.onnx"
    if out.exists():
        return out
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with open(cache / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not out.exists():
                tmp = out.with_suffix(f".{os.getpid()}.tmp")
                t0 = time.perf_counter()
                cmd = [sys.executable, "-m", "ocrgw.pipeline.engines.rapid_models", recipe, str(src), str(tmp)]
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_MAKE_TIMEOUT_S, check=False)
                if proc.returncode != 0 or not tmp.exists():
                    tmp.unlink(missing_ok=True)
                    raise RuntimeError(f"exit {proc.returncode}: {proc.stderr[-2000:]}")
                tmp.replace(out)
                log.info("derived %s in %.1f s: %s", recipe, time.perf_counter() - t0, out)
        return out
    except Exception:  # no onnx package, a full or read-only disk: the packaged model still reads
        log.warning("could not derive %s from %s; reading with the packaged model", recipe, src, exc_info=True)
        return None


RECIPES: dict[str, Callable[[Path, Path], None]] = {
    "int8_detector": int8_detector,
    "latin_recognizer": latin_recognizer,
    "int8_recognizer": int8_recognizer,
}


def prepare() -> list[Path]:
    """Make every derived file in the settings' cache now (dev.sh runs this after installing), so no
    worker's first start pays for it; what is already there is kept."""
    from ocrgw.pipeline.engines.rapid import model_files
    from ocrgw.settings import Settings

    settings = Settings()
    cache = settings.resolved_model_cache_dir
    return [] if cache is None else [p for p in model_files("eng", cache, settings.ppocr_int8) if p.parent == cache]


if __name__ == "__main__":  # RECIPE SRC DST: the child process ``derived`` starts; no arguments: ``prepare``
    if len(sys.argv) == 1:
        print("\n".join(str(p) for p in prepare()))
    else:
        RECIPES[sys.argv[1]](Path(sys.argv[2]), Path(sys.argv[3]))
