import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault
import Synchronization

/// An item's manifest as kept in the vault's `manifests/`: trusted only when its bytes hash to
/// the SHA-256 that the item's ledger entry recorded.
public enum StoredManifest: Sendable {
    case verified(JSONValue)
    case fault(String)

    public var value: JSONValue? { if case .verified(let value) = self { value } else { nil } }
    public var fault: String? { if case .fault(let reason) = self { reason } else { nil } }

    public static func read(entry: JSONValue?, vault: Vault) -> StoredManifest {
        guard let recorded = entry?["manifest"]?.stringValue.flatMap({ Hash(hex: $0) }) else {
            return .fault("its ledger entry records no manifest")
        }
        // Where it is kept, for a fault's message only (describing a path escapes it).
        var path: String { vault.objects.describe(.manifest(recorded)) }
        let bytes: [UInt8]
        do {
            bytes = try vault.objects.read(.manifest(recorded))
        } catch {
            return .fault("the manifest cannot be read: \(error)")
        }
        let actual = OpenSSLSHA256().sha256(bytes)
        guard actual == recorded else {
            return .fault(
                "the manifest \(path) does not match the ledger: its SHA-256 is \(actual.hex), the entry records \(recorded.hex)"
            )
        }
        guard let value = try? CanonicalJSON.parse(bytes), value.objectValue != nil else {
            return .fault("the manifest \(path) matches the ledger but is not a JSON object")
        }
        return .verified(value)
    }
}

/// Everything the vault holds about one item, as `show` presents it: its index record and entry,
/// its manifest (trusted only once re-hashed), its archive, its time stamps and what it awaits,
/// and its custody events after the seal.
public struct ItemDetails {
    public let record: ItemRecord
    public let entry: JSONValue?
    public let manifest: StoredManifest
    /// Where the manifest is kept (`ObjectStore.describe`: its path in a local vault).
    public let manifestLocation: String
    /// Where the archive is kept, nil when it is missing (`ObjectStore.describe`).
    public let archive: String?
    public let stamps: [(entry: CustodyEntry, record: TimeStampRecord)]
    /// What each token says (read from the token kept in the ledger; `verify` checks it).
    public let infos: [TimeStampInfo?]
    public let awaiting: [String]
    /// The item's custody events after its seal and stamps (whole-vault ones left to `history`).
    public let events: [CustodyEntry]

    init(record: ItemRecord, vault: Vault, ledger: Ledger) throws {
        self.record = record
        entry = try? CanonicalJSON.parse(try ledger.entryBytes(record.sequence))
        manifest = StoredManifest.read(entry: entry, vault: vault)
        manifestLocation = vault.objects.describe(
            .manifest(entry?["manifest"]?.stringValue.flatMap { Hash(hex: $0) } ?? record.manifest))
        archive = try vault.objects.findArchive(content: record.sha256).map(vault.objects.describe)
        stamps = try ledger.stamps(of: record.item)
        infos = stamps.map { stamp in
            (try? ledger.stampToken(at: stamp.entry.sequence)).flatMap { $0 }.flatMap {
                TimeStampInfos.shared.info(response: $0)
            }
        }
        let stampedBy = Set(stamps.map(\.record.source))
        awaiting = Vault.awaitedTimeStampSources(expected: vault.expectedTimeStampSources, stampedBy: stampedBy)
        events = try ledger.entries(about: record.item).filter { $0.type != .sealed && $0.type != .timestamped }
    }
}

/// What time stamp tokens say (`TimeStampVerifier.info`), kept by the SHA-256 of their bytes: the
/// same bytes always say the same, and reading a token again (OpenSSL decodes every certificate
/// it carries) cost a fifth of a daemon's `show`, whose calls read the same tokens over and over.
/// At most `capacity` are kept (then all are dropped and read again). Only what a token says is
/// kept, never whether it verifies: `verify` checks every token itself.
final class TimeStampInfos: Sendable {
    static let shared = TimeStampInfos(capacity: 8192)

    private let capacity: Int
    private let kept = Mutex([Hash: TimeStampInfo]())

    init(capacity: Int) { self.capacity = capacity }

    /// What the token `der` (a DER TimeStampResp) says; nil when it cannot be read.
    func info(response der: [UInt8]) -> TimeStampInfo? {
        let key = OpenSSLSHA256().sha256(der)
        if let known = kept.withLock({ $0[key] }) { return known }
        guard let info = try? TimeStampVerifier.info(response: der) else { return nil }
        kept.withLock { kept in
            if kept.count >= capacity { kept.removeAll() }
            kept[key] = info
        }
        return info
    }
}

extension CustodySession {
    /// What the vault holds about `record` (read only; `verify` checks it all).
    public func details(of record: ItemRecord) throws -> ItemDetails {
        try ItemDetails(record: record, vault: vault, ledger: ledger)
    }
}
