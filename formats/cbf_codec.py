"""CBF "x-CBF_BYTE_OFFSET" compression (the scheme Pilatus and Eiger miniCBF files use).

Each pixel is stored as the difference from the previous pixel (the first from 0):
a signed byte if |delta| < 128; otherwise the byte 0x80 followed by a little-endian int16
if it fits (excluding -32768); otherwise 0x80 0x00 0x80 followed by a little-endian int32;
otherwise (int64 deltas) 0x80 0x00 0x80 0x00 0x00 0x00 0x80 and an int64.  Values are int32.

Both directions are numba kernels compiled once and cached on disk.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from friedel.errors import FileFormatError


@njit(cache=True, nogil=True)
def _decode(buf, out):
    """Decode into ``out``; returns (pixels written (== out.size unless short), bytes read)."""
    n = out.size
    nbuf = buf.size
    i = 0
    j = 0
    value = np.int64(0)
    while j < n:
        if i >= nbuf:
            break
        d = np.int64(np.int8(buf[i]))
        i += 1
        if d == -128:
            if i + 2 > nbuf:
                break
            d = np.int64(np.int16(buf[i] | (np.uint16(buf[i + 1]) << 8)))
            i += 2
            if d == -32768:
                if i + 4 > nbuf:
                    break
                d = np.int64(np.int32(np.uint32(buf[i]) | (np.uint32(buf[i + 1]) << 8)
                                      | (np.uint32(buf[i + 2]) << 16) | (np.uint32(buf[i + 3]) << 24)))
                i += 4
                if d == -2147483648:
                    if i + 8 > nbuf:
                        break
                    u = np.uint64(0)
                    for k in range(8):
                        u |= np.uint64(buf[i + k]) << np.uint64(8 * k)
                    d = np.int64(u)
                    i += 8
        value += d
        out[j] = value
        j += 1
    return j, i


@njit(cache=True, nogil=True)
def _encode(data, buf):
    """Encode int32 ``data`` into ``buf`` (size >= 7 * data.size); returns bytes used."""
    i = 0
    prev = np.int64(0)
    for j in range(data.size):
        v = np.int64(data[j])
        d = v - prev
        prev = v
        if -127 <= d <= 127:
            buf[i] = np.uint8(d & 0xFF)
            i += 1
        elif -32767 <= d <= 32767:
            buf[i] = 0x80
            buf[i + 1] = np.uint8(d & 0xFF)
            buf[i + 2] = np.uint8((d >> 8) & 0xFF)
            i += 3
        else:
            # |delta| of two int32 values always fits in int32 except at the extremes;
            # those use the 64-bit escape.
            if -2147483647 <= d <= 2147483647:
                buf[i] = 0x80
                buf[i + 1] = 0x00
                buf[i + 2] = 0x80
                buf[i + 3] = np.uint8(d & 0xFF)
                buf[i + 4] = np.uint8((d >> 8) & 0xFF)
                buf[i + 5] = np.uint8((d >> 16) & 0xFF)
                buf[i + 6] = np.uint8((d >> 24) & 0xFF)
                i += 7
            else:
                buf[i] = 0x80
                buf[i + 1] = 0x00
                buf[i + 2] = 0x80
                buf[i + 3] = 0x00
                buf[i + 4] = 0x00
                buf[i + 5] = 0x00
                buf[i + 6] = 0x80
                i += 7
                for k in range(8):
                    buf[i + k] = np.uint8((d >> (8 * k)) & 0xFF)
                i += 8
    return i


@njit(cache=True, nogil=True)
def _encoded_size(data):
    n = 0
    prev = np.int64(0)
    for j in range(data.size):
        v = np.int64(data[j])
        d = v - prev
        prev = v
        if -127 <= d <= 127:
            n += 1
        elif -32767 <= d <= 32767:
            n += 3
        elif -2147483647 <= d <= 2147483647:
            n += 7
        else:
            n += 15
    return n


def decompress_byte_offset(raw, n_pixels: int, exact: bool = False) -> np.ndarray:
    """Decode ``n_pixels`` byte-offset-compressed values from ``raw`` (bytes or uint8 array).

    Returns a 1-D int32 array; raises FileFormatError if the stream ends early, if it cannot
    hold that many pixels (at least one byte each: checked before allocating, so a damaged
    header cannot ask for gigabytes) or, with ``exact``, if bytes are left over after the last
    pixel (the data are corrupt: a changed escape byte shifts every later pixel).
    """
    buf = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw.view(np.uint8).ravel()
    n_pixels = int(n_pixels)
    if n_pixels < 0 or n_pixels > buf.size:
        raise FileFormatError(
            f"byte-offset data of {buf.size} bytes cannot hold {n_pixels} pixels (at least one byte each); "
            "the header or the data are corrupt")
    out = np.empty(n_pixels, dtype=np.int32)
    got, used = _decode(buf, out)
    if got != n_pixels:
        raise FileFormatError(
            f"byte-offset data ends after {got} of {n_pixels} pixels (file truncated or corrupt)")
    if exact and used != buf.size:
        raise FileFormatError(
            f"byte-offset data has {buf.size - used} byte(s) left over after its {n_pixels} pixels "
            "(the data are corrupt)")
    return out


def compress_byte_offset(data) -> bytes:
    """Encode an integer array (any shape, read in C order) as byte-offset CBF data."""
    flat = np.ascontiguousarray(data, dtype=np.int32).ravel()
    buf = np.empty(_encoded_size(flat), dtype=np.uint8)
    used = _encode(flat, buf)
    return buf[:used].tobytes()


# --- "x-CBF_PACKED" / "x-CBF_PACKED_V2" (CCP4-style packing) ------------------------------------
#
# After a 32-byte header (element count as a little-endian int64, then 24 unused bytes) the
# stream is a little-endian bit stream (least significant bit first) of blocks.  Each block
# starts with a code: its low 3 bits n give 2**n errors in the block, the remaining bits
# (3 of them, 4 for version 2) index the table of bits per error.  An error is the signed
# (two's complement) difference between the pixel and its prediction:
# * first row (and "flat" images): the previous pixel (0 before the first);
# * first column: the mean of the pixels above and above-right, rounded half up;
# * last column: the mean of the previous pixel and the one above;
# * elsewhere: the mean of the previous pixel and the three above it (left, centre, right).
# Sums and values wrap at the element width, as the reference encoder does in C ints.  The
# widest errors (table entry 65) are 65-bit two's complement for flat images and take one
# element's width when the predictor averages (checked on files written by CBFlib).

PACKED_BITS_V1 = np.array([0, 4, 5, 6, 7, 8, 16, 65], dtype=np.int64)
PACKED_BITS_V2 = np.array([0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 65], dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def _read_bits(buf, pos, nbits):
    """``nbits`` (<= 32) bits from bit position ``pos`` of ``buf``, least significant first."""
    byte = pos >> 3
    shift = pos & 7
    need = (shift + nbits + 7) >> 3
    acc = np.uint64(0)
    for k in range(need):
        acc |= np.uint64(buf[byte + k]) << np.uint64(8 * k)
    acc >>= np.uint64(shift)
    return np.int64(acc & ((np.uint64(1) << np.uint64(nbits)) - np.uint64(1)))


@njit(cache=True, nogil=True)
def _wrap(x, elbits, signed):
    """``x`` reduced to an ``elbits``-bit integer (two's complement if ``signed``)."""
    m = np.int64(1) << elbits
    x = x & (m - 1)
    if signed and x >= (m >> 1):
        x -= m
    return x


@njit(cache=True, nogil=True)
def _decode_packed(buf, out, nfast, code_bits, table, elbits, signed, flat):
    """Decode into ``out`` (int64); returns the number of pixels written (short if the data end)."""
    n = out.size
    nbits_total = (buf.size - 8) * 8  # ``buf`` carries 8 bytes of zero padding
    pos = np.int64(32 * 8)
    i = 0
    low_mask = np.int64(7)
    while i < n:
        if pos + code_bits > nbits_total:
            break
        code = _read_bits(buf, pos, code_bits)
        pos += code_bits
        count = np.int64(1) << (code & low_mask)
        width = table[code >> 3]
        if pos + count * width > nbits_total:
            break
        for _ in range(count):
            if i >= n:
                break
            err = np.int64(0)
            if width == 65:  # 64 low bits then the sign bit; modulo 2**64 is exact enough
                err = _read_bits(buf, pos, 32) | (_read_bits(buf, pos + 32, 32) << 32)
                pos += 65
            elif width > 0:
                err = _read_bits(buf, pos, width)
                pos += width
                if (err >> (width - 1)) & 1:
                    err -= np.int64(1) << width
            if i == 0:
                pred = np.int64(0)
            elif flat or i < nfast:
                pred = out[i - 1]
            else:
                col = i % nfast
                if col == 0:
                    pred = _wrap(out[i - nfast] + out[i - nfast + 1] + 1, elbits, signed) >> 1
                elif col == nfast - 1:
                    pred = _wrap(out[i - 1] + out[i - nfast] + 1, elbits, signed) >> 1
                else:
                    s = out[i - 1] + out[i - nfast - 1] + out[i - nfast] + out[i - nfast + 1] + 2
                    pred = _wrap(s, elbits, signed) >> 2
            out[i] = _wrap(pred + err, elbits, signed)
            i += 1
    return i


def decompress_packed(raw, n_pixels: int, n_fast: int, *, version: int = 1, flat: bool = False,
                      element_bits: int = 32, signed: bool = True) -> np.ndarray:
    """Decode CBF_PACKED (``version=1``) or CBF_PACKED_V2 (``version=2``) data.

    ``raw`` is the binary section (bytes or uint8 array) starting at its 32-byte header,
    ``n_fast`` the length of an image row (the predictor uses the row above), ``flat`` the
    ``"flat"`` conversion flag (predict from the previous pixel only).  Returns a 1-D int32
    array (int64 for unsigned 32-bit elements); raises FileFormatError if the data end early.
    """
    if element_bits not in (8, 16, 32):
        raise FileFormatError(f"CBF packed data of {element_bits}-bit elements are not supported")
    src = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw.view(np.uint8).ravel()
    if src.size < 32:
        raise FileFormatError("CBF packed data shorter than their 32-byte header (file truncated or corrupt)")
    stored = int(src[:8].view("<i8")[0])
    if stored != n_pixels:
        raise FileFormatError(f"CBF packed data hold {stored} elements, header says {n_pixels}")
    buf = np.zeros(src.size + 8, dtype=np.uint8)
    buf[:src.size] = src
    table = (PACKED_BITS_V2 if version == 2 else PACKED_BITS_V1).copy()
    if not flat:  # with averaging, the widest errors take one element's width
        table[-1] = element_bits
    out = np.empty(int(n_pixels), dtype=np.int64)
    got = _decode_packed(buf, out, int(n_fast), 7 if version == 2 else 6, table, element_bits, signed, flat)
    if got != n_pixels:
        raise FileFormatError(f"CBF packed data end after {got} of {n_pixels} pixels (file truncated or corrupt)")
    if signed or element_bits < 32:
        return out.astype(np.int32)
    return out
