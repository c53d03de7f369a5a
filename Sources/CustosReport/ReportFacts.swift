import CustosFormats

/// One check of a report, PASS or FAIL, and why when it failed.
public struct ReportCheck: Sendable, Equatable {
    public var passed: Bool
    /// False when there was nothing to check (an original destroyed by an approved disposal):
    /// `NOT-CHECKED`, which fails nothing; `reason` says why.
    public var checked: Bool
    /// Why it failed (each fault found, as a sentence), or what was checked when it passed, in
    /// both languages.
    public var text: ReportText
    public var reason: String { text.en }

    public init(passed: Bool, _ text: ReportText) {
        self.passed = passed
        self.checked = true
        self.text = text
    }

    /// A check that found `faults` (FAIL, each fault a sentence), or none (PASS, `passed`).
    init(faults: [ReportFault], passed: ReportText) {
        self.init(
            passed: faults.isEmpty,
            faults.isEmpty
                ? passed
                : ReportText(
                    faults.map { "[\($0.code)] \($0.chinese)" }.joined(separator: "；"),
                    faults.map { "[\($0.code)] \($0.english)" }.joined(separator: "; ")))
    }

    /// A check not made, and why.
    public static func notChecked(_ text: ReportText) -> ReportCheck {
        var check = ReportCheck(passed: true, text)
        check.checked = false
        return check
    }

    public var result: String { !checked ? "NOT-CHECKED" : passed ? "PASS" : "FAIL" }
    public var json: JSONValue {
        .object(["result": .string(result), "reason": .string(text.en), "reasonZhTW": .string(text.zh)])
    }
}

/// A fault that a report's re-check found, as `custos verify` gives it.
public struct ReportFault: Sendable, Equatable {
    public var subject: String
    public var code: String
    public var message: String
    public var expected: String?
    public var found: String?

    public var json: JSONValue {
        .object([
            "subject": .string(subject), "code": .string(code), "message": .string(message),
            "expected": expected.map { .string($0) } ?? .null, "found": found.map { .string($0) } ?? .null,
        ])
    }
}

/// A claim of the report and the command that checks it without Custos.
public struct ReportCommand: Sendable, Equatable {
    public var claim: ReportText
    public var command: String

    public init(claim: ReportText, command: String) {
        self.claim = claim
        self.command = command
    }

    public var json: JSONValue {
        .object(["claim": .string(claim.en), "claimZhTW": .string(claim.zh), "command": .string(command)])
    }
}

/// Everything a chain-of-custody report says, from the ledger and the vault only: the value both
/// the JSON and the PDF are made from. Free text (names, descriptions, reasons) is kept as
/// recorded; whoever shows it escapes it.
public struct ReportFacts: Sendable {
    public static let format = "custos-report/1"

    /// The report's identifier (a UUIDv7, as items have).
    public var report: String
    public var made: ReportTime
    /// The zone every time of the report is given in (`custos init --time-zone`; Taiwan time
    /// when the vault names none), each at its offset of that instant.
    public var timeZone: ReportTimeZone
    /// The node (the ledger's origin).
    public var node: String
    /// The bureau the node belongs to, when the vault names one (`custos init --bureau`).
    public var bureau: String?
    /// Who made it: the actor as the custody event records it.
    public var actor: JSONObject
    public var reason: String
    /// `zh-TW`, `en`: the languages asked for.
    public var languages: [String]
    /// `items` or `case`.
    public var scope: String
    public var caseID: String?
    public var checkpoint: CheckpointFacts
    /// The ledger as a whole, re-audited while the report was made.
    public var ledger: ReportCheck
    public var ledgerFaults: [ReportFault]
    public var items: [ItemFacts]
    /// What is said of the report's own signature and anchoring.
    public var commands: [ReportCommand]
    /// The certificate that signs the report (`FILE.p7s`): its subject and SHA-256 fingerprint.
    public var signer: JSONObject?

    /// PASS only when the ledger and every item passed.
    public var passed: Bool { checkpoint.signature.passed && ledger.passed && items.allSatisfy(\.passed) }

    public var json: JSONValue {
        .object([
            "format": .string(Self.format),
            "report": .string(report),
            "made": made.json,
            "timeZone": .string(timeZone.name),
            "node": .string(node),
            "bureau": bureau.map { .string($0) } ?? .null,
            "actor": .object(actor),
            "reason": .string(reason),
            "languages": .array(languages.map { .string($0) }),
            "scope": .string(scope),
            "case": caseID.map { .string($0) } ?? .null,
            "result": .string(passed ? "PASS" : "FAIL"),
            "checkpoint": checkpoint.json,
            "ledger": .object([
                "result": .string(ledger.result), "reason": .string(ledger.text.en),
                "reasonZhTW": .string(ledger.text.zh),
                "faults": .array(ledgerFaults.map(\.json)),
            ]),
            "summary": .array(items.map(\.summaryJSON)),
            "items": .array(items.map(\.json)),
            "commands": .array(commands.map(\.json)),
            "signer": signer.map { .object($0) } ?? .null,
        ])
    }

    /// The report's JSON file: canonical JSON (RFC 8785) and a final newline.
    public var jsonBytes: [UInt8] { CanonicalJSON.encode(json) + [0x0a] }
}

/// The signed checkpoint a report is built on.
public struct CheckpointFacts: Sendable {
    public var origin: String
    public var size: UInt64
    public var root: Hash
    /// The signed note, exactly as the node keeps it.
    public var note: String
    /// The node's key: its name, its 8-hex-digit key hash and its verifier key text.
    public var keyName: String
    public var keyHash: String
    public var verifierKey: String
    /// Signatures on the note by other keys (peers' cosignatures): name and key hash.
    public var cosignatures: [(name: String, keyHash: String)]
    /// Whether the note verifies with the node's key (FAIL: the report is built on the tree the
    /// ledger holds, which no one signed).
    public var signature: ReportCheck

    public var json: JSONValue {
        .object([
            "signature": signature.json,
            "origin": .string(origin), "size": .integer(Int64(size)), "root": .string(root.base64),
            "rootHex": .string(root.hex), "note": .string(note), "keyName": .string(keyName),
            "keyHash": .string(keyHash), "verifierKey": .string(verifierKey),
            "cosignatures": .array(
                cosignatures.map { .object(["name": .string($0.name), "keyHash": .string($0.keyHash)]) }),
        ])
    }
}

/// One event of an item's custody timeline in a report.
public struct TimelineEvent: Sendable {
    public var entry: UInt64
    public var time: ReportTime?
    /// The time as the entry records it (UTC).
    public var recorded: String
    public var event: String
    public var wholeVault: Bool
    public var actor: String
    /// `kernel` or `process` (`HistoryEvent.actorVerification`).
    public var verifiedBy: String
    public var examiner: String?
    public var reason: String?
    public var note: String?
    public var result: String?
    /// The entry's public facts (its details-document digest left out).
    public var facts: JSONObject
    /// `in-checkpoint`, `not-yet-covered`, `failed`.
    public var proof: String
    /// Why the entry or its details document is not trusted, when it is not.
    public var fault: String?

    public var json: JSONValue {
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        return .object([
            "entry": .integer(Int64(entry)), "time": text(time?.time), "rocDate": text(time?.rocDate),
            "recorded": .string(recorded), "event": .string(event), "wholeVault": .bool(wholeVault),
            "actor": .string(actor), "verifiedBy": .string(verifiedBy), "examiner": text(examiner),
            "reason": text(reason), "note": text(note), "result": text(result), "facts": .object(facts),
            "proof": .string(proof), "fault": text(fault),
        ])
    }
}

/// One time-stamp token of an item, as the ledger keeps it.
public struct TokenFacts: Sendable {
    public var entry: UInt64
    public var source: String
    public var authority: String
    public var serial: String
    public var genTime: String
    /// `genTime` in the report's time zone.
    public var genTimeLocal: ReportTime?
    public var accuracyMilliseconds: Int64?
    public var policy: String
    /// The SHA-256 of the token's DER (`timestamp export` writes it as `ITEM-N.tsr`).
    public var token: Hash

    public var json: JSONValue {
        .object([
            "entry": .integer(Int64(entry)), "source": .string(source), "authority": .string(authority),
            "serial": .string(serial), "genTime": .string(genTime),
            // In the report's zone (`timeZone`).
            "genTimeLocal": genTimeLocal?.json ?? .null,
            "accuracyMilliseconds": accuracyMilliseconds.map { .integer($0) } ?? .null, "policy": .string(policy),
            "tokenSHA256": .string(token.hex),
        ])
    }
}

/// Everything a report says of one item.
public struct ItemFacts: Sendable {
    public var item: String
    public var caseID: String
    public var exhibit: String
    public var description: String
    /// The original's name and path, byte-exact (`CanonicalJSON` byte strings), from the manifest.
    public var name: [UInt8]
    public var path: [UInt8]?
    public var size: UInt64
    public var md5: String?
    public var sha1: String?
    public var sha256: Hash
    /// What the manifest records of the acquisition and the seal (the examiner's declaration
    /// and the node's record), and when the item was sealed.
    public var sealed: ReportTime?
    /// When this node received it, for an item received from another node (`sealed` is then
    /// the sender's seal, as its manifest records it); nil for an item this node sealed.
    public var received: ReportTime? = nil
    public var acquisition: JSONObject
    public var timeline: [TimelineEvent]
    public var content: ReportCheck
    public var archive: ReportCheck
    public var manifest: ReportCheck
    /// Every fault the re-check found about this item (the three above and the others: its
    /// time stamps, its index row, its events' details documents).
    public var faults: [ReportFault]
    /// What the faults about this item name: `item <id>`, `entry <n>` of its entries.
    public var subjects: Set<String>
    /// The sealed entry's inclusion in the report's checkpoint.
    public var proof: ProofFacts
    public var tokens: [TokenFacts]
    public var awaitingTimeStamps: [String]
    public var notChecked: [ReportText]
    public var commands: [ReportCommand]

    public var passed: Bool {
        faults.isEmpty && content.passed && archive.passed && manifest.passed && proof.check.passed
    }

    var summaryJSON: JSONValue {
        .object([
            "item": .string(item), "case": .string(caseID), "exhibit": .string(exhibit),
            "name": .byteString(name), "sha256": .string(sha256.hex), "result": .string(passed ? "PASS" : "FAIL"),
            "faults": .array(faults.map { .string($0.code) }),
        ])
    }

    public var json: JSONValue {
        .object([
            "item": .string(item), "case": .string(caseID), "exhibit": .string(exhibit),
            "description": .string(description), "result": .string(passed ? "PASS" : "FAIL"),
            "original": .object([
                "name": .byteString(name), "path": path.map { .byteString($0) } ?? .null,
                "size": .integer(Int64(size)), "md5": md5.map { .string($0) } ?? .null,
                "sha1": sha1.map { .string($0) } ?? .null, "sha256": .string(sha256.hex),
            ]),
            "sealed": sealed?.json ?? .null,
            "received": received?.json ?? .null,
            "acquisition": .object(acquisition),
            "timeline": .array(timeline.map(\.json)),
            "integrity": .object([
                "content": content.json, "archive": archive.json, "manifest": manifest.json,
                "faults": .array(faults.map(\.json)),
            ]),
            "ledgerProof": proof.json,
            "timestamps": .array(tokens.map(\.json)),
            "awaitingTimeStamps": .array(awaitingTimeStamps.map { .string($0) }),
            "notChecked": .array(notChecked.map { .string($0.en) }),
            "notCheckedZhTW": .array(notChecked.map { .string($0.zh) }),
            "commands": .array(commands.map(\.json)),
        ])
    }
}

/// An RFC 6962 inclusion proof of an item's sealed entry in the report's checkpoint.
public struct ProofFacts: Sendable {
    public var origin: String
    public var index: UInt64
    /// The entry's exact bytes (canonical JSON).
    public var entry: [UInt8]
    /// SHA-256(0x00 || entry).
    public var leafHash: Hash
    public var path: [Hash]
    public var checkpointSize: UInt64
    public var root: Hash
    /// Whether the path leads from the leaf to the signed root (checked while the report was made).
    public var check: ReportCheck

    public var json: JSONValue {
        .object([
            "origin": .string(origin), "index": .integer(Int64(index)), "entry": .string(Base64.encode(entry)),
            "leafHash": .string(leafHash.hex), "inclusionProof": .array(path.map { .string($0.hex) }),
            "checkpointSize": .integer(Int64(checkpointSize)), "root": .string(root.hex),
            "result": .string(check.result), "reason": .string(check.text.en),
            "reasonZhTW": .string(check.text.zh),
        ])
    }
}
