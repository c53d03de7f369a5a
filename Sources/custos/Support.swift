import ArgumentParser
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosVault
import Foundation
import Glibc

let toolVersion = "custos 0.1.0"

/// The vault option every command takes.
struct VaultOptions: ParsableArguments {
    @Option(name: .long, help: "The vault folder (default: $CUSTOS_VAULT, else ./custos-vault).")
    var vault: String?

    var path: RawPath {
        if let vault { return RawArguments.raw(vault) }
        if let env = ProcessInfo.processInfo.environment["CUSTOS_VAULT"], !env.isEmpty { return RawPath(env) }
        return RawPath("custos-vault")
    }

    func open() throws -> Vault { try Vault.open(at: path) }
}

/// The command line as the kernel gave it: paths that are not UTF-8 stay byte-exact.
enum RawArguments {
    static let all: [[UInt8]] = (0..<Int(CommandLine.argc)).map { index in
        guard let pointer = CommandLine.unsafeArgv[index] else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
    }

    /// The raw bytes of the argument that ArgumentParser saw as `text` (it sees a repaired String).
    static func raw(_ text: String) -> RawPath {
        if let match = all.first(where: { String(decoding: $0, as: UTF8.self) == text }) {
            return RawPath(bytes: match)
        }
        return RawPath(text)
    }
}

/// A failure the CLI reports with a short reason and an exit code (2 for refused input or bad
/// usage, 1 for a verification fault).
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32 = 2
    var description: String { message }
}

extension ItemRecord {
    var displayName: String { DisplayName.escape(name) }

    var json: JSONValue {
        .object([
            "item": .string(item), "sequence": .integer(Int64(sequence)), "case": .string(caseID),
            "exhibit": .string(exhibit), "name": .byteString(name), "sha256": .string(sha256.hex),
            "size": .integer(Int64(size)), "archive": .string(archive.hex), "manifest": .string(manifest.hex),
            "sealedAt": .string(sealedAt),
        ])
    }
}

/// The items a command-line argument names: the item with that id, the one item whose id or
/// SHA-256 starts with it, or, when it is a start of one content's SHA-256, every item sealed with
/// that content. Any other prefix matching several items is refused, listing them.
func resolveItems(_ text: String, in ledger: Ledger) throws -> [ItemRecord] {
    let found = try ledger.items(matching: text)
    guard !found.isEmpty else { throw CLIError(message: "no item matches \"\(text)\"") }
    let lowered = text.lowercased()
    if let exact = found.first(where: { $0.item == lowered }) { return [exact] }
    if found.count == 1 { return found }
    if Set(found.map(\.sha256)).count == 1, found.allSatisfy({ $0.sha256.hex.hasPrefix(lowered) }) { return found }
    throw ambiguity(text, found, "give more of the id or of the SHA-256")
}

/// Exactly one item, by id or a unique start of its id or SHA-256 (see `resolveItems`).
func resolveItem(_ text: String, in ledger: Ledger) throws -> ItemRecord {
    let found = try resolveItems(text, in: ledger)
    guard found.count == 1 else { throw ambiguity(text, found, "this content was sealed more than once; give the id") }
    return found[0]
}

/// The refusal of a prefix that names several items: each candidate on a line of its own.
private func ambiguity(_ text: String, _ found: [ItemRecord], _ advice: String) -> CLIError {
    let shown = 20
    var lines = ["\"\(text)\" matches \(found.count) items; \(advice):"]
    lines += found.prefix(shown).map { "  \($0.candidateLine)" }
    if found.count > shown { lines.append("  … and \(found.count - shown) more") }
    return CLIError(message: lines.joined(separator: "\n"))
}

extension ItemRecord {
    /// Id, time sealed, SHA-256, case and name, as a candidate is listed.
    var candidateLine: String {
        let caseText = caseID.isEmpty ? "-" : DisplayName.escape(Array(caseID.utf8))
        return "\(item)  \(sealedAt)  \(sha256.hex)  case \(caseText)  \(displayName)"
    }
}
