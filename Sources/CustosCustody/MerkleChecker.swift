/// The standard-library Python checker of Merkle proofs (Docs/tools/rfc6962_check.py), byte for
/// byte (a test compares them), so a court bundle carries the tool its VERIFY.md runs.
enum MerkleChecker {
    static let script = #"""
        #!/usr/bin/env python3
        """An independent check of a Custos ledger, with Python's standard library only.

        It shares no code with Custos: it recomputes RFC 6962 Merkle roots from the entry bytes and
        checks C2SP tlog-proof files, so an expert can confirm what `custos verify` says.

            rfc6962_check.py root ENTRY_FILE...   print the base64 root of the entries, in the order given
            rfc6962_check.py chain ENTRY_FILE...  check that each entry's "prev" is the SHA-256 of the one before
            rfc6962_check.py proof PROOF_FILE     check a tlog-proof: its entry (the "extra" line) is at its
                                                  index in the tree of its checkpoint; prints the checkpoint
            rfc6962_check.py consistency OLD_CHECKPOINT NEW_CHECKPOINT PROOF_FILE
                                                  check that the tree of NEW extends the tree of OLD: the RFC 6962
                                                  consistency proof (one base64 hash a line, as `custos
                                                  consistency` prints it) leads from OLD's root to NEW's root

        The checkpoints' signatures are not checked here (Python's standard library has no Ed25519):
        check them with openssl as Docs/Verification.md shows.

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


        def verify_consistency(size1, size2, root1, root2, proof):
            """RFC 9162 section 2.1.4.2: True when the proof shows that the tree of size2 with root2
            extends the tree of size1 with root1."""
            if size1 > size2:
                return False
            if size1 == size2:
                return not proof and root1 == root2
            if size1 == 0:
                return not proof and root1 == hashlib.sha256(b"").digest()
            if size1 & (size1 - 1) == 0:  # An exact power of 2: its root is the first node of the path.
                proof = [root1] + proof
            if not proof:
                return False
            fn, sn = size1 - 1, size2 - 1
            while fn & 1:
                fn >>= 1
                sn >>= 1
            fr = sr = proof[0]
            for c in proof[1:]:
                if sn == 0:
                    return False
                if fn & 1 or fn == sn:
                    fr = node_hash(c, fr)
                    sr = node_hash(c, sr)
                    if not fn & 1:
                        while fn and not fn & 1:
                            fn >>= 1
                            sn >>= 1
                else:
                    sr = node_hash(sr, c)
                fn >>= 1
                sn >>= 1
            return sn == 0 and fr == root1 and sr == root2


        def checkpoint_head(path):
            """The origin, tree size and root of a signed checkpoint (its first three lines)."""
            origin, size, root_b64 = read(path).decode().split("\n")[:3]
            return origin, int(size), root_b64


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
            if command == "consistency":
                old_origin, old_size, old_root = checkpoint_head(args[0])
                new_origin, new_size, new_root = checkpoint_head(args[1])
                proof = [base64.b64decode(h, validate=True) for h in read(args[2]).decode().split()]
                if old_origin != new_origin:
                    print(f"the checkpoints are of two logs: {old_origin} and {new_origin}")
                    return 1
                if not verify_consistency(
                    old_size, new_size, base64.b64decode(old_root), base64.b64decode(new_root), proof
                ):
                    print(
                        f"INCONSISTENT: the tree of {new_size} entries, root {new_root}, does not extend "
                        f"the tree of {old_size} entries, root {old_root}"
                    )
                    return 1
                print(
                    f"consistent: the tree of {new_size} entries, root {new_root}, extends "
                    f"the tree of {old_size} entries, root {old_root}"
                )
                return 0
            print(__doc__)
            return 2


        if __name__ == "__main__":
            sys.exit(main(sys.argv))

        """#
}
