import ArgumentParser
import CustosCustody
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

    @Option(
        name: .long,
        help: "The daemon's socket (default: $CUSTOS_SOCKET; else the vault's own, else /run/custos/custos.sock).")
    var socket: String?

    func open() throws -> Vault { try Vault.open(at: path) }

    /// Whether the vault was named (`--vault`, `$CUSTOS_VAULT`) rather than taken by default.
    var vaultGiven: Bool {
        vault != nil || !(ProcessInfo.processInfo.environment["CUSTOS_VAULT"] ?? "").isEmpty
    }

    /// The socket named by `--socket` or `$CUSTOS_SOCKET`, if any.
    var explicitSocket: String? {
        if let socket { return socket }
        if let env = ProcessInfo.processInfo.environment["CUSTOS_SOCKET"], !env.isEmpty { return env }
        return nil
    }
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

extension CustodySession {
    /// Ends a command that recorded custody events: when signing a checkpoint failed after an
    /// event was appended, the event stands (it is in the ledger), and the command says so and
    /// fails, so that nobody takes the record for absent or for covered.
    func requireCovered() throws {
        guard let first = uncoveredSince else { return }
        throw CLIError(
            message: "recorded from entry \(first) on, but no signed checkpoint covers it yet; "
                + "`custos checkpoint --sign` covers it")
    }
}
