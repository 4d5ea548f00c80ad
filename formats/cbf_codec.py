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
    """Decode into ``out``; returns the number of pixels written (== out.size unless short)."""
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
    return j


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


def decompress_byte_offset(raw, n_pixels: int) -> np.ndarray:
    """Decode ``n_pixels`` byte-offset-compressed values from ``raw`` (bytes or uint8 array).

    Returns a 1-D int32 array; raises FileFormatError if the stream ends early.
    """
    buf = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw.view(np.uint8).ravel()
    out = np.empty(int(n_pixels), dtype=np.int32)
    got = _decode(buf, out)
    if got != n_pixels:
        raise FileFormatError(
            f"byte-offset data ends after {got} of {n_pixels} pixels (file truncated or corrupt)")
    return out


def compress_byte_offset(data) -> bytes:
    """Encode an integer array (any shape, read in C order) as byte-offset CBF data."""
    flat = np.ascontiguousarray(data, dtype=np.int32).ravel()
    buf = np.empty(_encoded_size(flat), dtype=np.uint8)
    used = _encode(flat, buf)
    return buf[:used].tobytes()
