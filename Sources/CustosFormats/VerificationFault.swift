/// One fault that a verification found: what it is about, what was wrong, and what was expected
/// and found. Verification returns every fault it finds as values, never only the first.
public struct VerificationFault: Hashable, Sendable, CustomStringConvertible {
    /// What kind of fault it is. Each code is stable for scripts, and each is documented, with
    /// what to do, in Docs/Verification.md ("Fault codes"); a test checks that the two agree.
    public enum Code: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
        /// Positions are missing from the ledger: entries were removed.
        case entryMissing = "entry-missing"
        /// An entry names another position than the one it is stored at.
        case entrySequence = "entry-sequence"
        /// An entry's `prev` does not name the hash of the entry before it.
        case chainBroken = "chain-broken"
        /// An entry names another node than the vault's origin.
        case entryNode = "entry-node"
        /// An entry is not a canonical custody event.
        case entryMalformed = "entry-malformed"
        /// The stored Merkle tree hashes differ from those the entries give.
        case treeMismatch = "tree-mismatch"
        /// The signed checkpoints cannot be read from the ledger.
        case unreadable = "unreadable"
        /// A checkpoint the vault kept is not a signed checkpoint.
        case checkpointMalformed = "checkpoint-malformed"
        /// A checkpoint (or the latest one) is not signed by the node's key.
        case badSignature = "bad-signature"
        /// A kept checkpoint's signed origin or size is not that of its row.
        case checkpointMismatch = "checkpoint-mismatch"
        /// The node signed more entries than the ledger holds: entries were removed.
        case entriesMissing = "entries-missing"
        /// The entries do not give the root the node signed.
        case rootMismatch = "root-mismatch"
        /// The latest checkpoint is not the largest one the node signed.
        case latestMismatch = "latest-mismatch"
        /// Entries come after the latest checkpoint: no signed checkpoint covers them.
        case entriesUncovered = "entries-uncovered"
        /// A signed checkpoint is not consistent with the latest one.
        case inconsistent = "inconsistent"
        /// The item index names an entry that does not seal that item.
        case indexOrphan = "index-orphan"
        /// An entry sealed an item, but the item index has no row for it.
        case indexMissing = "index-missing"
        /// The item index disagrees with the ledger entry or with the manifest.
        case indexMismatch = "index-mismatch"
        /// A `timestamped` entry lacks its subject, imprint, token, authority, serial or genTime.
        case stampMalformed = "stamp-malformed"
        /// The ledger's stamps table disagrees with the `timestamped` entries.
        case stampIndex = "stamp-index"
        /// A time stamp is of something the ledger does not hold (an item, or a checkpoint never signed).
        case stampSubject = "stamp-subject"
        /// A time stamp is over another digest than that of its subject.
        case stampImprint = "stamp-imprint"
        /// A time stamp's token is missing from the ledger's stamps table.
        case stampTokenMissing = "stamp-token-missing"
        /// The token kept in the ledger's stamps table is not the one the entry records.
        case stampTokenAltered = "stamp-token-altered"
        /// The trust anchors of a time-stamping authority are missing or altered.
        case stampAnchorsMissing = "stamp-anchors-missing"
        /// A time-stamp token does not verify.
        case stampInvalid = "stamp-invalid"
        /// An entry's serial or genTime is not the token's.
        case stampMismatch = "stamp-mismatch"
        /// The node TSA's trust anchor (`tsa/chain.pem`) cannot be read: its tokens are unchecked.
        case tsaChainMissing = "tsa-chain-missing"
        /// A checkpoint has no valid token of the node's TSA.
        case checkpointUnstamped = "checkpoint-unstamped"
        /// The vault's own verifier key is not the one given with `--key`.
        case keyMismatch = "key-mismatch"
        /// A `--checkpoint` file is not a signed checkpoint.
        case keptCheckpointMalformed = "kept-checkpoint-malformed"
        /// A `--checkpoint` file is not signed by the node's key.
        case keptCheckpointSignature = "kept-checkpoint-signature"
        /// A `--checkpoint` file is of another log.
        case keptCheckpointOrigin = "kept-checkpoint-origin"
        /// The vault's latest checkpoint cannot be read to check a `--checkpoint` against.
        case keptCheckpointUnchecked = "kept-checkpoint-unchecked"
        /// A `--checkpoint` is larger than the vault's latest checkpoint: the vault was rolled back or rewritten.
        case keptCheckpointAhead = "kept-checkpoint-ahead"
        /// A `--checkpoint` is not consistent with the vault's latest checkpoint: history was rewritten.
        case keptCheckpointInconsistent = "kept-checkpoint-inconsistent"
        /// A `sealed` entry lacks its digests.
        case entryIncomplete = "entry-incomplete"
        /// A manifest in `manifests/` was altered: its SHA-256 is not the one recorded.
        case manifestDigest = "manifest-digest"
        /// A manifest in `manifests/` is not JSON.
        case manifestMalformed = "manifest-malformed"
        /// An item's manifest is missing from `manifests/`.
        case manifestMissing = "manifest-missing"
        /// An item's manifest does not describe its entry.
        case manifestMismatch = "manifest-mismatch"
        /// An entry names a details document that `details/` does not hold.
        case detailsMissing = "details-missing"
        /// A details document's bytes do not hash to the SHA-256 its entry names.
        case detailsAltered = "details-altered"
        /// A `received` entry's handover proof does not hold: the kept `handover.json`,
        /// `checkpoint.txt` or `handover.sig` is missing or altered, not signed by the sender's kept
        /// key, or the sender's `sealed` entry is not proven in its checkpoint.
        case handoverProof = "handover-proof"
        /// The ledger's events index disagrees with the custody-event entries.
        case eventIndex = "event-index"
        /// An item's archive is missing from `objects/`.
        case archiveMissing = "archive-missing"
        /// An item's archive cannot be read.
        case archiveUnreadable = "archive-unreadable"
        /// An archive's bytes are not those that were sealed.
        case archiveDigest = "archive-digest"
        /// An archive's `hashdeep.txt` does not list the original with its digests.
        case archiveHashdeep = "archive-hashdeep"
        /// An archive holds no `manifest.json`, a malformed one, or one that names another SHA-256.
        case archiveManifest = "archive-manifest"
        /// The original in the archive has another SHA-256 than the one recorded.
        case contentSha256 = "content-sha256"
        /// The original in the archive has another MD5 than the one recorded.
        case contentMd5 = "content-md5"
        /// The original in the archive has another SHA-1 than the one recorded.
        case contentSha1 = "content-sha1"
        /// The original in the archive has another size than the one recorded.
        case contentSize = "content-size"
        /// A `disposed` entry that destroys an item is not the approval of a request for it by
        /// another account: the request is not an earlier `disposal-requested` entry of that item
        /// and mode, or its requester approved it. The archive is checked as any item's.
        case disposalUnproven = "disposal-unproven"

        /// The code as printed and in JSON: `archive-digest`, `chain-broken`, ….
        public var description: String { rawValue }
    }

    /// What the fault concerns: `item <id>`, `entry <n>`, `checkpoint <size>`, `archive <sha256>`.
    public var subject: String
    /// A short code, stable for scripts: `archive-digest`, `chain-broken`, `bad-signature`, ….
    public var code: Code
    /// A sentence for a person.
    public var message: String
    public var expected: String?
    public var found: String?

    public init(subject: String, code: Code, message: String, expected: String? = nil, found: String? = nil) {
        self.subject = subject
        self.code = code
        self.message = message
        self.expected = expected
        self.found = found
    }

    public var description: String {
        var text = "\(subject): \(message)"
        if let expected { text += "\n    expected: \(expected)" }
        if let found { text += "\n    found:    \(found)" }
        return text
    }

    public var json: JSONValue {
        var members: JSONObject = [
            "subject": .string(subject), "code": .string(code.rawValue), "message": .string(message),
        ]
        if let expected { members["expected"] = .string(expected) }
        if let found { members["found"] = .string(found) }
        return .object(members)
    }
}
