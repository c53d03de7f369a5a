import CustosFormats
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// The real `custos` binary, built beside the test bundle (or named by $CUSTOS_BINARY).
let custosBinary: String = {
    if let path = ProcessInfo.processInfo.environment["CUSTOS_BINARY"] { return path }
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return bundle.appendingPathComponent("custos").path
}()

let isRoot = geteuid() == 0

/// A vault in a fresh folder, driven through the real binary.
final class Node: @unchecked Sendable {
    let directory: TemporaryDirectory
    let vault: String

    init(origin: String = "e2e.example.tw/evidence", initArguments: [String] = [], directory: TemporaryDirectory? = nil)
        throws
    {
        self.directory = directory ?? TemporaryDirectory("e2e")
        vault = self.directory.file("vault")
        let result = try custos(["init", "--origin", origin] + initArguments)
        #expect(result.status == 0, "init: \(result.stderr)")
    }

    /// A vault made otherwise (another umask, other options), at `vault` in `directory`.
    init(existing vault: String, directory: TemporaryDirectory) {
        self.directory = directory
        self.vault = vault
    }

    /// Runs `custos <arguments> --vault <vault>`.
    @discardableResult
    func custos(_ arguments: [String], stdin: [UInt8]? = nil) throws -> CommandResult {
        try run(custosBinary, [arguments[0], "--vault", vault] + arguments.dropFirst(), stdin: stdin)
    }

    /// Runs custos with raw-byte arguments (names that are not UTF-8).
    @discardableResult
    func custos(raw arguments: [[UInt8]]) throws -> CommandResult {
        try run(custosBinary, [arguments[0], Array("--vault".utf8), Array(vault.utf8)] + arguments.dropFirst())
    }

    /// `list --json`, decoded.
    func items() throws -> [[String: Any]] {
        let result = try custos(["list", "--json"])
        #expect(result.status == 0, "list: \(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout)) as! [[String: Any]]
    }

    func verify() throws -> CommandResult { try custos(["verify"]) }

    /// The number of entries and the size of the latest checkpoint, as `verify --json` reports them
    /// (`--no-record`: a probe, which records no `verified` event of its own).
    func coverage() throws -> (entries: Int, latest: Int) {
        let report = try JSONSerialization.jsonObject(
            with: Data(try custos(["verify", "--json", "--no-record"]).stdout))
        let object = report as? [String: Any] ?? [:]
        return (object["entries"] as? Int ?? -1, object["latestCheckpointSize"] as? Int ?? -1)
    }

    /// The archive file of an item: named by the SHA-256 of the evidence it holds.
    func archivePath(item: [String: Any]) -> String {
        let hash = item["sha256"] as! String
        let folder = "\(vault)/objects/\(hash.prefix(2))"
        let name = try! FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasPrefix(hash) }!
        return "\(folder)/\(name)"
    }

    /// Flips one bit in the middle of the sealed archive of `item` (an id `list` gives): what an
    /// attacker with write access to the vault's objects would do.
    func alterArchive(ofItem item: String) throws {
        let listed = try #require(try items().first { $0["item"] as? String == item })
        let path = archivePath(item: listed)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x01
        chmod(path, 0o644)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func files(under folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: "\(vault)/\(folder)")?.allObjects as? [String] ?? []).filter {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(vault)/\(folder)/\($0)", isDirectory: &isDirectory)
            return !isDirectory.boolValue
        }
    }
}

/// The SHA-256 of a file as `sha256sum` prints it.
func sha256sum(_ path: String) throws -> String {
    let result = try run("sha256sum", ["--", path])
    return String(result.output.prefix(64))
}

extension Node {
    /// Spoils the signature of the latest checkpoint, in the ledger itself (its rows and the
    /// latest one): what a forger without the node's key can do.
    func forgeLatestCheckpoint() throws {
        let note = try SignedNote(parsing: try custos(["checkpoint"]).output)
        var signature = note.signatures[0].signature
        signature[0] ^= 0x80
        let forged = SignedNote(
            text: note.text,
            signatures: [
                NoteSignature(name: note.signatures[0].name, keyID: note.signatures[0].keyID, signature: signature)
            ]
        ).serialized
        let tampered = try run(
            "sqlite3", [vault + "/ledger.sqlite"],
            stdin: Array(
                """
                DROP TRIGGER IF EXISTS checkpoints_no_update; DROP TRIGGER IF EXISTS latest_no_delete;
                UPDATE checkpoints SET note = '\(forged)' WHERE note = '\(note.serialized)';
                UPDATE latest_checkpoint SET note = '\(forged)';
                """.utf8))
        #expect(tampered.status == 0, "\(tampered.stderr)")
    }
}
