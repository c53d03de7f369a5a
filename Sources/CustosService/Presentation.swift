import CustosCustody
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing

// The JSON forms of what the custody service finds: a call's result, the same whether it is
// served by the daemon or in process, and what the CLI prints with `--json` (keys in
// Docs/Formats.md).

extension ItemRecord {
    public var json: JSONValue {
        .object([
            "item": .string(item), "sequence": .integer(Int64(sequence)), "case": .string(caseID),
            "exhibit": .string(exhibit), "name": .byteString(name), "sha256": .string(sha256.hex),
            "size": .integer(Int64(size)), "archive": .string(archive.hex), "manifest": .string(manifest.hex),
            "sealedAt": .string(sealedAt),
        ])
    }
}

extension ItemStatus {
    /// `list`'s line: the index record, and its time stamps.
    public var json: JSONValue {
        var object = record.json.objectValue ?? [:]
        object["timeStamped"] = .bool(!stampedBy.isEmpty)
        object["awaitingTimeStamps"] = .array(awaiting.map { .string($0) })
        return .object(object)
    }
}

extension ItemDetails {
    /// `show`'s object.
    public var json: JSONValue {
        let stampsJSON: [JSONValue] = zip(stamps, infos).map { stamp, info in
            .object([
                "entry": .integer(Int64(stamp.entry.sequence)), "source": .string(stamp.record.source),
                "authority": .string(stamp.record.authority),
                "skewSeconds": stamp.record.skewSeconds.map { .integer($0) } ?? .null,
                "skewExceeded": .bool(stamp.record.skewExceeded),
                "serial": .string(stamp.record.serial), "genTime": .string(stamp.record.genTime),
                "policy": .string(stamp.record.policy), "token": .string(stamp.record.token.hex),
                "accuracyMilliseconds": info?.accuracyMilliseconds.map { .integer($0) } ?? .null,
            ])
        }
        return .object([
            "item": record.json,
            "entry": entry ?? .null,
            "manifest": manifest.value ?? .null,
            "manifestFault": manifest.fault.map { .string($0) } ?? .null,
            "manifestPath": .string(manifestLocation),
            "archivePath": archive.map { .string($0) } ?? .null,
            "timestamps": .array(stampsJSON),
            "awaitingTimeStamps": .array(awaiting.map { .string($0) }),
            "events": .array(
                events.map { entry in
                    .object([
                        "entry": .integer(Int64(entry.sequence)), "event": .string(entry.type.rawValue),
                        "time": .string(entry.time), "actor": .string(entry.actor),
                        "result": entry.details["result"]?.stringValue.map { .string($0) } ?? .null,
                    ])
                }),
        ])
    }
}

extension ItemHistory {
    /// `history`'s events of this item: the same keys for every event, null where the event has
    /// no such value.
    public var eventsJSON: [JSONValue] { events.map { Self.json($0, item: record.item) } }

    static func json(_ event: HistoryEvent, item: String) -> JSONValue {
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        var facts = event.entry.details
        facts[CustodyEntry.detailsDocumentMember] = nil
        let document: JSONValue = event.entry.detailsDocument.map { .string($0.hex) } ?? .null
        let documentStatus: String =
            switch event.document {
            case .none: "none"
            case .verified: "verified"
            case .missing: "missing"
            case .altered: "altered"
            }
        let proofStatus: String =
            switch event.proof {
            case .inCheckpoint: "in-checkpoint"
            case .notYetCovered: "not-yet-covered"
            case .failed: "failed"
            }
        return .object([
            "item": .string(item),
            "entry": .integer(Int64(event.sequence)),
            "time": .string(event.time),
            "event": .string(event.type.rawValue),
            "wholeVault": .bool(event.wholeVault),
            "actor": .string(event.actor),
            "actorVerifiedBy": .string(event.actorVerification.rawValue),
            "actorGroups": .array(event.actorGroups.map { .string($0) }),
            "examiner": text(event.examiner),
            "reason": text(event.reason),
            "note": text(event.note),
            "result": text(event.result),
            "facts": .object(facts),
            "document": document,
            "documentStatus": .string(documentStatus),
            "proof": .string(proofStatus),
            "proofFault": text(event.proof.fault),
            "documentFault": text(event.document.fault),
            "retainUntil": text(event.retainUntil),
            "recipient": text(event.recipient),
        ])
    }
}
