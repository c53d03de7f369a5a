import CustosCustody
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

extension ServiceOperation {
    /// An entry's exact bytes: `{sequence}` → `{sequence, bytes: base64}`.
    public static let entry = ServiceOperation(name: "entry", action: .view, records: false)
    /// A C2SP tlog-proof of an item's entry: `{item}` → `{item, proof}`.
    public static let proof = ServiceOperation(name: "proof", action: .view, records: false)
    /// The latest signed checkpoint, or the one of `size`: `{size?}` → `{note}`.
    public static let checkpoint = ServiceOperation(name: "checkpoint", action: .view, records: false)
    /// The node's verifier key: → `{key}`.
    public static let key = ServiceOperation(name: "key", action: .view, records: false)
}

extension CustodyService {
    func entry(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        guard let sequence = arguments.object["sequence"]?.integerValue, sequence >= 0 else {
            throw ServiceFailure(.badRequest, "entry: sequence must be a whole number")
        }
        let ledger = try custody.session(readOnly: true).ledger
        guard UInt64(sequence) < (try ledger.size()) else {
            throw ServiceFailure(.unknownItem, "entry \(sequence): the ledger holds \(try ledger.size()) entries")
        }
        let bytes = try ledger.entryBytes(UInt64(sequence))
        return ServiceReply(result: .object(["sequence": .integer(sequence), "bytes": .string(Base64.encode(bytes))]))
    }

    func proof(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let ledger = try custody.session(readOnly: true).ledger
        let record = try ItemResolution.item(try arguments.string("item"), in: ledger)
        let proof = try ledger.tlogProof(index: record.sequence)
        return ServiceReply(result: .object(["item": .string(record.item), "proof": .string(proof.serialized)]))
    }

    func checkpoint(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let ledger = try custody.session(readOnly: true).ledger
        var note: String
        if let size = arguments.object["size"] {
            guard let size = size.integerValue, size >= 0 else {
                throw ServiceFailure(.badRequest, "checkpoint: size must be a whole number")
            }
            note = try ledger.checkpoint(size: UInt64(size))
        } else {
            note = try ledger.latestCheckpoint()
        }
        return ServiceReply(result: .object(["note": .string(note)]))
    }

    func key(custody: Custody) throws -> ServiceReply {
        ServiceReply(result: .object(["key": .string(try custody.vault.verifierKey().key.text)]))
    }
}
