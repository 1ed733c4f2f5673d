"""JPEG XL headers: the image size, read from the codestream's SizeHeader without decoding.

The Pillow plugin (pillow-jxl-plugin) decodes the whole image when it opens a file, so the decode
budget must be checked on the size declared here first, and an upload is judged by this header
alone (a truncated file then fails in processing, with its reason on the image).
"""

CODESTREAM = b"\xff\x0a"
CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
# SizeHeader ratio -> width / height (numerator, denominator); 0 means the width is coded.
RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


def is_jxl(head: bytes) -> bool:
    return head[:2] == CODESTREAM or head[:12] == CONTAINER


class _Bits:
    """Reads the codestream's bits, least significant first."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, count: int) -> int:
        value = 0
        for n in range(count):
            byte = self.data[(self.pos + n) >> 3]  # IndexError past the end
            value |= ((byte >> ((self.pos + n) & 7)) & 1) << n
        self.pos += count
        return value

    def u32(self) -> int:  # U32(Bits(9), Bits(13), Bits(18), Bits(30)), as the SizeHeader codes it
        return self.read((9, 13, 18, 30)[self.read(2)])


def _codestream(data: bytes) -> bytes | None:
    """The start of the codestream: the file itself, or the first jxlc/jxlp box of a container."""
    if data[:2] == CODESTREAM:
        return data
    pos = 0
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        if kind == b"jxlc":
            return data[pos + header :]
        if kind == b"jxlp":
            return data[pos + header + 4 :]  # after the part's index
        if size == 0 or size < header:
            return None
        pos += size
    return None


def jxl_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) a JPEG XL file declares, or None when its header cannot be read."""
    stream = _codestream(data)
    if not stream or stream[:2] != CODESTREAM:
        return None
    bits = _Bits(stream[2:])
    try:
        if bits.read(1):  # small: multiples of 8 up to 256
            height = (bits.read(5) + 1) * 8
            ratio = bits.read(3)
            width = (bits.read(5) + 1) * 8 if ratio == 0 else 0
        else:
            height = bits.u32() + 1
            ratio = bits.read(3)
            width = bits.u32() + 1 if ratio == 0 else 0
    except IndexError:
        return None
    if ratio:
        numerator, denominator = RATIOS[ratio]
        width = height * numerator // denominator
    return width, height
