#!/usr/bin/env python3
"""Writes the test vectors of docs/export-format.md and checks them, with nothing but
Python's standard library: an implementation of the format independent of Tessera's.

Each vector is a 2-of-3 Shamir sharing f(x) = a0 + a1*x over the curve's scalar field, with
a0 and a1 derived from fixed labels, so anyone can recompute it. Run from the repository root:

    python3 docs/export-vectors/generate.py          # check the files
    python3 docs/export-vectors/generate.py --write  # (re)write them
"""
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# secp256k1 (SEC 2)
P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def secp_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return (x, (lam * (a[0] - x) - a[1]) % P)


def secp_mul(k, pt=G):
    acc = None
    while k:
        if k & 1:
            acc = secp_add(acc, pt)
        pt = secp_add(pt, pt)
        k >>= 1
    return acc


def secp_compressed(pt):
    return bytes([2 + (pt[1] & 1)]) + pt[0].to_bytes(32, "big")


# Ed25519 (RFC 8032)
Q = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, Q) % Q
BY = 4 * pow(5, -1, Q) % Q


def ed_x(y, sign):
    xx = (y * y - 1) * pow(D * y * y + 1, -1, Q) % Q
    x = pow(xx, (Q + 3) // 8, Q)
    if (x * x - xx) % Q != 0:
        x = x * pow(2, (Q - 1) // 4, Q) % Q
    if x & 1 != sign:
        x = Q - x
    return x


B = (ed_x(BY, 0), BY)


def ed_add(a, b):
    x1, y1 = a
    x2, y2 = b
    t = D * x1 * x2 * y1 * y2 % Q
    return ((x1 * y2 + x2 * y1) * pow(1 + t, -1, Q) % Q,
            (y1 * y2 + x1 * x2) * pow(1 - t, -1, Q) % Q)


def ed_mul(k, pt=B):
    acc = (0, 1)
    while k:
        if k & 1:
            acc = ed_add(acc, pt)
        pt = ed_add(pt, pt)
        k >>= 1
    return acc


def ed_compressed(pt):
    return (pt[1] | ((pt[0] & 1) << 255)).to_bytes(32, "little")


def coefficient(label, order):
    return int.from_bytes(hashlib.sha256(label.encode()).digest(), "big") % order


CURVES = {
    "secp256k1": dict(scheme="ecdsa-secp256k1/dkls23", order=N, mul=secp_mul,
                      point=secp_compressed, endian="big", encoding="big-endian"),
    "ed25519": dict(scheme="ed25519", order=L, mul=ed_mul, point=ed_compressed,
                    endian="little", encoding="little-endian"),
}


def vectors(curve):
    c = CURVES[curve]
    order = c["order"]
    a0 = coefficient(f"tessera export vector {curve} a0", order)
    a1 = coefficient(f"tessera export vector {curve} a1", order)
    shares = [(a0 + a1 * (i + 1)) % order for i in range(3)]
    public = c["point"](c["mul"](a0)).hex()
    verification = [c["point"](c["mul"](s)).hex() for s in shares]
    chain_code = hashlib.sha256(f"tessera export vector {curve} chain code".encode()).hexdigest()
    docs = []
    for i, s in enumerate(shares):
        docs.append({
            "format": "tessera-share-export/v1",
            "warning": "SECRET: one party's share of a wallet key. Any threshold of these documents together control the wallet.",
            "wallet_id": f"vector-{curve}",
            "scheme": c["scheme"],
            "curve": curve,
            "threshold": 2,
            "parties": 3,
            "epoch": 0,
            "group_public_key": public,
            "chain_code": chain_code,
            "party_index": i,
            "x": i + 1,
            "secret_share": s.to_bytes(32, c["endian"]).hex(),
            "scalar_encoding": c["encoding"],
            "verification_shares": verification,
        })
    return docs, a0


def take_over(docs):
    """What another implementation does: check each share, interpolate any two at 0."""
    c = CURVES[docs[0]["curve"]]
    order = c["order"]
    pts = []
    for d in docs:
        s = int.from_bytes(bytes.fromhex(d["secret_share"]), c["endian"])
        assert c["point"](c["mul"](s)).hex() == d["verification_shares"][d["party_index"]]
        pts.append((d["x"], s))
    for j in range(len(pts)):
        for k in range(j + 1, len(pts)):
            (xj, sj), (xk, sk) = pts[j], pts[k]
            secret = (sj * xk * pow(xk - xj, -1, order) + sk * xj * pow(xj - xk, -1, order)) % order
            assert c["point"](c["mul"](secret)).hex() == docs[0]["group_public_key"]
    return secret


def main():
    write = "--write" in sys.argv[1:]
    for curve in CURVES:
        docs, a0 = vectors(curve)
        assert take_over(docs) == a0
        for d in docs:
            path = HERE / f"{curve}-2of3-party{d['party_index']}.json"
            text = json.dumps(d, indent=2) + "\n"
            if write:
                path.write_text(text)
            elif json.loads(path.read_text()) != d:
                sys.exit(f"{path} differs from the vector")
    print("vectors " + ("written" if write else "OK"))


if __name__ == "__main__":
    main()
