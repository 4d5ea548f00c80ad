"""Low-level CBF file access: the binary section and the Pilatus-style miniCBF header.

* :func:`write_minicbf` writes a miniCBF exactly as a DECTRIS Pilatus/Eiger detector does
  (byte-offset compressed int32, ``PILATUS_1.2`` header convention, MD5 of the binary).
* :func:`read_cbf_bytes` reads a (optionally .gz/.bz2 compressed) file into memory.
* :func:`split_cbf` separates the text part from the binary section and decodes it.
* :func:`parse_pilatus_header` turns the ``# Key value`` lines into numbers.
"""
from __future__ import annotations

import base64
import bz2
import datetime as _dt
import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from friedel.errors import FileFormatError
from friedel.io.atomic import atomic_write
from friedel.formats.cbf_codec import compress_byte_offset, decompress_byte_offset, decompress_packed

BINARY_START = b"\x0c\x1a\x04\xd5"
_CRLF = "\r\n"


def open_maybe_compressed(path, mode="rb"):
    """Open ``path``, transparently decompressing ``.gz`` and ``.bz2`` files."""
    path = str(path)
    if path.endswith(".gz"):
        return gzip.open(path, mode)
    if path.endswith(".bz2"):
        return bz2.open(path, mode)
    return open(path, mode)


def read_head(path, nbytes: int = 4096) -> bytes:
    """The first ``nbytes`` (decompressed) bytes of a file; b"" if it cannot be read."""
    try:
        with open_maybe_compressed(path) as fh:
            return fh.read(nbytes)
    except (OSError, EOFError, ValueError):
        return b""


def read_cbf_bytes(path) -> bytes:
    """The whole (decompressed) file contents, or FileFormatError naming the file."""
    try:
        with open_maybe_compressed(path) as fh:
            return fh.read()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: file not found") from None
    except (OSError, EOFError, ValueError) as exc:
        raise FileFormatError(f"{path}: cannot read ({exc}); the file is truncated or corrupt") from None


@dataclass
class BinarySection:
    """One decoded ``--CIF-BINARY-FORMAT-SECTION--``."""
    data: np.ndarray  # (slow, fast) int32
    mime: dict


def _parse_mime(text: str) -> dict:
    mime = {}
    for line in text.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            mime[key.strip()] = value.strip()
    # "conversions=" is a continuation line of Content-Type
    m = re.search(r'conversions="([^"]+)"', text)
    if m:
        mime["conversions"] = m.group(1)
    return mime


def _compression(mime: dict, text: str) -> str | None:
    """"byte_offset", "packed", "packed_v2" or None (unsupported) from a section's MIME header."""
    conv = (mime.get("conversions", "") + " " + mime.get("Content-Type", "")).upper()
    if "CBF_BYTE_OFFSET" in conv:
        return "byte_offset"
    if "CBF_PACKED_V2" in conv:
        return "packed_v2"
    if "CBF_PACKED" in conv:
        return "packed"
    return None


def compression_flat(text: str) -> bool:
    """True if the packed data were written with the ``"flat"`` flag (previous-pixel predictor)."""
    return '"flat"' in text.split("Content-Transfer-Encoding")[0]


def _element_type(mime: dict) -> tuple[int, bool]:
    """(bits, signed) of the stored elements, from X-Binary-Element-Type."""
    m = re.search(r"(un)?signed\s+(\d+)-bit\s+integer", mime.get("X-Binary-Element-Type", ""))
    if not m:
        return 32, True
    return int(m.group(2)), m.group(1) is None


def decode_binary_sections(raw: bytes, path) -> list[BinarySection]:
    """Decode every binary section (byte-offset or CBF_PACKED/_V2 compressed) of a CBF file in ``raw``."""
    sections = []
    pos = 0
    while True:
        start = raw.find(b"--CIF-BINARY-FORMAT-SECTION--", pos)
        if start < 0:
            break
        if raw[start + 29:start + 31] == b"--":  # closing boundary of the previous section
            pos = start + 31
            continue
        marker = raw.find(BINARY_START, start)
        if marker < 0:
            raise FileFormatError(f"{path}: CBF binary section has no start marker (corrupt file)")
        mime_text = raw[start:marker].decode("latin-1")
        mime = _parse_mime(mime_text)
        compression = _compression(mime, mime_text)
        if compression is None:
            raise FileFormatError(f"{path}: unsupported CBF compression {mime.get('conversions')!r} "
                                  "(friedel reads x-CBF_BYTE_OFFSET, x-CBF_PACKED and x-CBF_PACKED_V2)")
        try:
            size = int(mime["X-Binary-Size"])
            n_fast = int(mime["X-Binary-Size-Fastest-Dimension"])
            n_slow = int(mime.get("X-Binary-Size-Second-Dimension", 1))
            n_elements = int(mime.get("X-Binary-Number-of-Elements", n_fast * n_slow))
        except (KeyError, ValueError):
            raise FileFormatError(f"{path}: CBF binary section lacks its size fields (corrupt file)") from None
        body = marker + 4
        check_binary_size(path, size, n_fast, n_slow, n_elements, compression)
        if body + size > len(raw):
            raise FileFormatError(
                f"{path}: binary data is {len(raw) - body} bytes, header says {size} (file truncated)")
        check_md5(path, raw[body:body + size], mime.get("Content-MD5"))
        try:
            if compression == "byte_offset":
                flat = decompress_byte_offset(raw[body:body + size], n_elements, exact=True)
            else:
                bits, signed = _element_type(mime)
                flat = decompress_packed(raw[body:body + size], n_elements, n_fast,
                                         version=2 if compression == "packed_v2" else 1,
                                         flat=compression_flat(mime_text), element_bits=bits, signed=signed)
        except FileFormatError as exc:
            raise FileFormatError(f"{path}: {exc}") from None
        sections.append(BinarySection(flat.reshape(n_slow, n_fast), mime))
        pos = body + size
    if not sections:
        raise FileFormatError(f"{path}: no CBF binary data section found")
    return sections


#: more pixels than any detector has (a 100000 x 100000 header is damage, not a detector)
MAX_PIXELS = 1 << 28


def check_binary_size(path, size: int, n_fast: int, n_slow: int, n_elements: int, compression: str) -> None:
    """Refuse binary-section size fields that contradict each other, before anything is allocated.

    Byte-offset data take at least one byte per pixel; no detector has more than
    :data:`MAX_PIXELS` pixels per image.
    """
    if min(size, n_fast, n_slow, n_elements) < 0 or n_fast == 0 or n_slow == 0:
        raise FileFormatError(f"{path}: CBF binary header has impossible sizes "
                              f"({n_fast} x {n_slow} pixels, {size} bytes); the file is corrupt")
    if n_elements != n_fast * n_slow:
        raise FileFormatError(f"{path}: CBF element count {n_elements} != {n_fast} x {n_slow} "
                              "(X-Binary-Number-of-Elements contradicts the dimensions; the header is corrupt)")
    if n_elements > MAX_PIXELS:
        raise FileFormatError(f"{path}: CBF header claims {n_fast} x {n_slow} pixels, more than any detector "
                              "has; the header is corrupt")
    if compression == "byte_offset" and n_elements > size:
        raise FileFormatError(f"{path}: CBF header claims {n_elements} pixels in {size} bytes of byte-offset "
                              "data (at least one byte per pixel); the header is corrupt")


def check_md5(path, data: bytes, content_md5: str | None) -> None:
    """Compare the binary data with the header's ``Content-MD5`` (base64 of the MD5 digest), if present."""
    if not content_md5:
        return
    expected = content_md5.strip()
    actual = base64.b64encode(hashlib.md5(data).digest()).decode()
    if actual != expected:
        raise FileFormatError(f"{path}: the image data do not match the Content-MD5 checksum of the CBF header "
                              "(the file is corrupt; copy it again from the source)")


def text_part(raw: bytes) -> str:
    """The CIF text before the first binary section."""
    end = raw.find(b"--CIF-BINARY-FORMAT-SECTION--")
    return raw[: end if end >= 0 else len(raw)].decode("latin-1")


# --- Pilatus header -----------------------------------------------------------------------

_FLOAT = r"([-+0-9.eE]+)"


def parse_pilatus_header(text: str) -> dict:
    """Parse the ``# Key value`` lines of a PILATUS_1.2 header into SI-free numbers.

    Returns a dict with (where present): detector (str), serial (str), pixel_size_mm (fast,
    slow), thickness_mm, exposure_time, count_cutoff, wavelength (A), distance_mm,
    beam_xy_px (x, y), start_angle, angle_increment (deg), oscillation_axis (str),
    detector_2theta (deg), kappa/phi/chi/omega angles (deg), timestamp (str).
    """
    h: dict = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            continue
        s = line[1:].strip()
        low = s.lower()
        if low.startswith("detector:"):
            det = s.split(":", 1)[1].strip()
            h["detector"] = det
            m = re.search(r"S/N\s*([-\w]+)", det)
            if m:
                h["serial"] = m.group(1)
        elif low.startswith("pixel_size"):
            m = re.findall(_FLOAT + r"\s*m", s)
            if len(m) >= 2:
                h["pixel_size_mm"] = (round(float(m[0]) * 1000.0, 9), round(float(m[1]) * 1000.0, 9))
        elif low.startswith("silicon sensor") or "sensor, thickness" in low:
            m = re.search(r"thickness\s+" + _FLOAT + r"\s*(m|mm|um)?", s)
            if m:
                value = float(m.group(1))
                unit = m.group(2) or "m"
                h["sensor_material"] = s.split()[0]
                h["thickness_mm"] = value * {"m": 1000.0, "mm": 1.0, "um": 1e-3}[unit]
        elif low.startswith("exposure_time"):
            h["exposure_time"] = float(re.search(_FLOAT, s[len("exposure_time"):]).group(1))
        elif low.startswith("exposure_period"):
            h["exposure_period"] = float(re.search(_FLOAT, s[len("exposure_period"):]).group(1))
        elif low.startswith("count_cutoff"):
            h["count_cutoff"] = int(float(re.search(_FLOAT, s[len("count_cutoff"):]).group(1)))
        elif low.startswith("wavelength"):
            h["wavelength"] = float(re.search(_FLOAT, s[len("wavelength"):]).group(1))
        elif low.startswith("detector_distance"):
            h["distance_mm"] = round(float(re.search(_FLOAT, s[len("detector_distance"):]).group(1)) * 1000.0, 9)
        elif low.startswith("beam_xy"):
            m = re.findall(_FLOAT, s[len("beam_xy"):])
            if len(m) >= 2:
                h["beam_xy_px"] = (float(m[0]), float(m[1]))
        elif low.startswith("start_angle"):
            h["start_angle"] = float(re.search(_FLOAT, s[len("start_angle"):]).group(1))
        elif low.startswith("angle_increment"):
            h["angle_increment"] = float(re.search(_FLOAT, s[len("angle_increment"):]).group(1))
        elif low.startswith("detector_2theta"):
            h["detector_2theta"] = float(re.search(_FLOAT, s[len("detector_2theta"):]).group(1))
        elif low.startswith("oscillation_axis"):
            h["oscillation_axis"] = s[len("oscillation_axis"):].strip()
        elif re.match(r"(kappa|phi|chi|omega|alpha)\s", low):
            key = low.split()[0]
            h[key] = float(re.search(_FLOAT, s[len(key):]).group(1))
        elif re.match(r"\d{4}-\d\d-\d\d", s):
            h["timestamp"] = s
    return h


# --- writer -------------------------------------------------------------------------------

def write_minicbf(
    path,
    data,
    *,
    detector: str = "PILATUS3 6M, S/N 60-0000",
    pixel_size: tuple[float, float] = (0.172, 0.172),
    thickness_mm: float = 0.45,
    sensor_material: str = "Silicon",
    wavelength: float = 0.9795,
    distance_mm: float = 200.0,
    beam_xy_px: tuple[float, float] | None = None,
    start_angle: float = 0.0,
    angle_increment: float = 0.1,
    exposure_time: float = 0.1,
    exposure_period: float | None = None,
    count_cutoff: int = 1048575,
    threshold_ev: float | None = None,
    oscillation_axis: str = "X.CW",
    timestamp: str | None = None,
    comment: str | None = None,
) -> None:
    """Write ``data`` (2-D integer array, shape (slow, fast)) as a Pilatus-style miniCBF.

    The result has the header of a real DECTRIS Pilatus file (``PILATUS_1.2`` convention) and
    byte-offset compressed signed 32-bit pixels, so it is read by friedel, DIALS/dxtbx, XDS,
    fabio and adxv alike.  Units: ``pixel_size`` (fast, slow) in mm, ``thickness_mm`` in mm,
    ``wavelength`` in Angstrom, ``distance_mm`` in mm, ``beam_xy_px`` (x=fast, y=slow) in
    pixels (default: the image centre), angles in degrees, times in seconds.  Negative pixel
    values mark gaps (-1) and bad pixels (-2) as on a real detector.  A ``.gz`` or ``.bz2``
    suffix on ``path`` compresses the file.  The write is atomic (temporary file + rename).
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError("write_minicbf needs a 2-D (slow, fast) array")
    if not np.issubdtype(data.dtype, np.integer):
        data = np.rint(data)
    data = np.clip(data, -2**31, 2**31 - 1).astype(np.int32)
    n_slow, n_fast = data.shape
    if beam_xy_px is None:
        beam_xy_px = (n_fast / 2.0, n_slow / 2.0)
    if exposure_period is None:
        exposure_period = exposure_time
    if timestamp is None:
        timestamp = _dt.datetime.now().isoformat(timespec="milliseconds")
    name = Path(str(path)).name
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    block = name[:-4] if name.endswith(".cbf") else name
    lines = [
        f"# Detector: {detector}",
        f"# {timestamp}",
        f"# Pixel_size {pixel_size[0] * 1e3:.0f}e-6 m x {pixel_size[1] * 1e3:.0f}e-6 m",
        f"# {sensor_material} sensor, thickness {thickness_mm / 1000.0:.6f} m",
        f"# Exposure_time {exposure_time:.7f} s",
        f"# Exposure_period {exposure_period:.7f} s",
        "# Tau = 0 s",
        f"# Count_cutoff {int(count_cutoff)} counts",
    ]
    if threshold_ev is not None:
        lines.append(f"# Threshold_setting: {threshold_ev:.0f} eV")
    if comment:
        lines.append(f"# Comment: {comment}")
    lines += [
        f"# Wavelength {wavelength:.5f} A",
        f"# Detector_distance {distance_mm / 1000.0:.5f} m",
        f"# Beam_xy ({beam_xy_px[0]:.2f}, {beam_xy_px[1]:.2f}) pixels",
        f"# Start_angle {start_angle:.4f} deg.",
        f"# Angle_increment {angle_increment:.4f} deg.",
        "# Detector_2theta 0.0000 deg.",
        f"# Oscillation_axis {oscillation_axis}",
        "# N_oscillations 1",
    ]
    packed = compress_byte_offset(data)
    md5 = base64.b64encode(hashlib.md5(packed).digest()).decode()
    head = _CRLF.join([
        "###CBF: VERSION 1.5, CBFlib v0.7.8 - PILATUS detectors", "",
        f"data_{block}", "",
        '_array_data.header_convention "PILATUS_1.2"',
        "_array_data.header_contents",
        ";", *lines, ";", "",
        "_array_data.data",
        ";",
        "--CIF-BINARY-FORMAT-SECTION--",
        "Content-Type: application/octet-stream;",
        '     conversions="x-CBF_BYTE_OFFSET"',
        "Content-Transfer-Encoding: BINARY",
        f"X-Binary-Size: {len(packed)}",
        "X-Binary-ID: 1",
        'X-Binary-Element-Type: "signed 32-bit integer"',
        "X-Binary-Element-Byte-Order: LITTLE_ENDIAN",
        f"Content-MD5: {md5}",
        f"X-Binary-Number-of-Elements: {data.size}",
        f"X-Binary-Size-Fastest-Dimension: {n_fast}",
        f"X-Binary-Size-Second-Dimension: {n_slow}",
        "X-Binary-Size-Padding: 4095",
        "", "",
    ]).encode("latin-1")
    tail = (_CRLF + "--CIF-BINARY-FORMAT-SECTION----" + _CRLF + ";" + _CRLF + _CRLF).encode()
    contents = head + BINARY_START + packed + b"\x00" * 4095 + tail
    _atomic_write_bytes(path, contents)


def _atomic_write_bytes(path, contents: bytes) -> None:
    path = str(path)
    if path.endswith(".gz"):
        contents = gzip.compress(contents, compresslevel=6)
    elif path.endswith(".bz2"):
        contents = bz2.compress(contents, compresslevel=9)
    with atomic_write(path) as fh:
        fh.write(contents)
