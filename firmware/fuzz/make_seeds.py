#!/usr/bin/env python3
"""Writes the seed corpora of the firmware fuzz targets into seeds/<target>/.

jp2_decode: the fixture card face photo. card_parsers: the fixture card's files and certificates (SHIKAKU_FIXTURES or ../shared/fixtures
next to the workspace). card_responses: response scripts shaped like the fixture card's answers
(SELECT 9000, token info, PIN status 63C3, the auth certificate in 256-byte READ BINARY chunks,
a 256-byte signature). iso_dep_blocks: I-blocks, chained I-blocks, R(ACK), S(WTX), errors.
Script format of both replay targets: a length byte then that many bytes; 0xFF an error.
"""
import os, sys, pathlib

here = pathlib.Path(__file__).resolve().parent
root = here.parent.parent
fixtures = pathlib.Path(os.environ.get("SHIKAKU_FIXTURES", root.parent / "shared" / "fixtures"))
out = here / "seeds"


def write(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(bytes(data))


def script(responses):
    s = bytearray()
    for r in responses:
        if r is None:
            s.append(0xFF)
        elif len(r) >= 0xFE:
            s += bytes([0xFE]) + len(r).to_bytes(2, "big") + bytes(r)
        else:
            s.append(len(r))
            s += bytes(r)
    return s


card = fixtures / "myna-testcard"
files = sorted(card.glob("*.bin")) + sorted(card.glob("*.der")) + sorted((fixtures / "jpki-ca").glob("*.cer"))
if not files:
    sys.exit(f"no fixtures under {fixtures}")
for f in files:
    write("card_parsers", f.name, f.read_bytes())

OK = [0x90, 0x00]
cert = (card / "jpki-auth-cert.der").read_bytes()
token = b"JPKIAPICCTOKEN2".ljust(32, b" ")
chunks = [list(cert[i:i + 256]) + OK for i in range(0, len(cert), 256)]
identify = [OK, OK, list(token) + OK, OK, [0x63, 0xC3], OK, list(cert[:4]) + OK] + chunks
write("card_responses", "identify", bytes([0]) + script(identify))
write("card_responses", "identify-short-reads", bytes([0]) + script([OK, OK, list(token) + OK, [0x63, 0xC3], OK] + chunks))
write("card_responses", "verify-ok", bytes([1]) + script([OK, [0x63, 0xC3], OK, OK]))
write("card_responses", "verify-wrong", bytes([1]) + script([OK, [0x63, 0xC3], [0x63, 0xC2]]))
write("card_responses", "verify-locked", bytes([0x81]) + script([OK, [0x63, 0xC1], [0x69, 0x84]]))
write("card_responses", "read-cert", bytes([2]) + script([OK, list(cert[:4]) + OK] + chunks))
write("card_responses", "sign", bytes([3]) + script([OK, [0x5A] * 256 + OK]))
write("card_responses", "sign-61xx", bytes([3]) + script([OK, [0x61, 0x00], [0x5A] * 256 + OK]))
face = (card / "surface-0002.bin").read_bytes()
fchunks = [list(face[i:i + 256]) + OK for i in range(0, len(face), 256)]
write("card_responses", "surface-face", bytes([4]) + script([OK, OK, list(face[:4]) + OK] + fchunks))
cv = (card / "cv-certificate-synthetic.bin").read_bytes()
write("card_responses", "surface-cv", bytes([0x84]) + script([OK, OK, list(cv[:4]) + OK, list(cv) + OK]))

# T=CL: cfg byte (FSC index, FWI, CID flag), then PICC frames (CRC stripped by the frontend).
write("iso_dep_blocks", "i-blocks", bytes([0x01]) + script([[0x02] + OK, [0x03] + [0x11] * 20 + OK, [0x02] + OK, [0x03] + OK]))
write("iso_dep_blocks", "chained-answer", bytes([0x03]) + script([[0x12] + [0x22] * 60, [0x13] + [0x33] * 10 + OK, [0x02] + OK]))
write("iso_dep_blocks", "ack-chaining", bytes([0x00]) + script([[0xA2], [0xA3], [0xA2], [0xA3], [0x02] + OK]))
write("iso_dep_blocks", "wtx", bytes([0x01]) + script([[0xF2, 0x01], [0xF2, 0x3B], [0x02] + OK]))
write("iso_dep_blocks", "errors", bytes([0x01]) + script([None, [0xB2], [0x02] + OK]) + bytes([0xFE, 0x02, 0x90]))
write("iso_dep_blocks", "cid", bytes([0x41]) + script([[0x0A, 0x01] + OK, [0x0B, 0x01] + OK, [0xFA, 0x01, 0x01]]))
# JP2: the card face photo (DF27) cut out of the fixture card's face record, and its codestream.
sig = bytes([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20])
at = face.find(sig)
if at >= 0:
    jp2 = face[at:]
    write("jp2_decode", "card-face.jp2", jp2)
    soc = jp2.find(bytes([0xFF, 0x4F, 0xFF, 0x51]))
    if soc >= 0:
        write("jp2_decode", "card-face.j2k", jp2[soc:])
print(f"seeds written under {out}")
