#!/usr/bin/env python3
"""An independent check of a Custos ledger, with Python's standard library only.

It shares no code with Custos: it recomputes RFC 6962 Merkle roots from the entry bytes and
checks C2SP tlog-proof files, so an expert can confirm what `custos verify` says.

    rfc6962_check.py root ENTRY_FILE...   print the base64 root of the entries, in the order given
    rfc6962_check.py chain ENTRY_FILE...  check that each entry's "prev" is the SHA-256 of the one before
    rfc6962_check.py proof PROOF_FILE     check a tlog-proof: its entry (the "extra" line) is at its
                                          index in the tree of its checkpoint; prints the checkpoint

Exit status 0 when the check passes, 1 when it fails.
"""
import base64
import hashlib
import json
import sys


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves):
    """RFC 6962 section 2.1: MTH of a list of leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def root_from_inclusion_proof(index, size, leaf, proof):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        raise ValueError("index beyond tree size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    command, args = argv[1], argv[2:]
    if command == "root":
        print(base64.b64encode(root([leaf_hash(read(p)) for p in args])).decode())
        return 0
    if command == "chain":
        previous = "0" * 64
        for path in args:
            body = read(path)
            entry = json.loads(body)
            if entry["prev"] != previous:
                print(f"{path}: prev is {entry['prev']}, the entry before hashes to {previous}")
                return 1
            previous = hashlib.sha256(body).hexdigest()
        print(f"chain of {len(args)} entries intact")
        return 0
    if command == "proof":
        text = read(args[0]).decode()
        head, note = text.split("\n\n", 1)
        lines = head.split("\n")
        if lines[0] != "c2sp.org/tlog-proof@v1":
            print("not a tlog-proof")
            return 1
        lines = lines[1:]
        extra = None
        if lines[0].startswith("extra "):
            extra = base64.b64decode(lines[0][6:], validate=True)
            lines = lines[1:]
        index = int(lines[0][len("index "):])
        proof = [base64.b64decode(h, validate=True) for h in lines[1:]]
        origin, size, root_b64 = note.split("\n")[:3]
        computed = root_from_inclusion_proof(index, int(size), leaf_hash(extra), proof)
        if computed != base64.b64decode(root_b64):
            print("the inclusion proof does not lead to the checkpoint's root")
            return 1
        print(f"entry {index} is in {origin} at size {size}, root {root_b64}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
