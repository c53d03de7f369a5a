import ArgumentParser
import CustosFileSystem
import CustosFormats
import CustosVault

struct Peer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The nodes this vault receives items from: their verifier keys.",
        subcommands: [Add.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Trust another node's verifier key (a file holding it, as `custos key` prints it).",
            discussion: """
                The key is kept as keys/peers/<origin>.vkey (mode 0400). Obtain it through a channel you \
                trust: a handover signed by it is then accepted. A malformed key, this node's own origin, \
                or an origin already known with another key is refused; a key is never replaced.
                """)
        @OptionGroup var vault: VaultOptions
        @Argument(help: "A file holding the peer's verifier key (name+hash+base64).") var keyFile: String

        func run() throws {
            let vault = try vault.open()
            let path = RawArguments.raw(keyFile)
            let bytes: [UInt8]
            do {
                guard let status = try FileSystem.linkStatus(path), status.isRegularFile, status.size <= 4096 else {
                    throw CLIError(message: "\(path): not a key file (a regular file of at most 4 KiB)")
                }
                bytes = try FileSystem.readFile(path)
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError(message: "\(path): cannot be read: \(error)")
            }
            do {
                let (addition, key) = try vault.addPeer(keyText: String(decoding: bytes, as: UTF8.self))
                Output.line(addition == .added ? "added peer \(key.text)" : "peer already known: \(key.text)")
            } catch let error as VaultError {
                throw CLIError(message: "\(path): \(error)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the peers' verifier keys.")
        @OptionGroup var vault: VaultOptions
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            let keys = try vault.open().peerKeys()
            if json {
                Output.json(.array(keys.map { .object(["origin": .string($0.name), "key": .string($0.text)]) }))
            } else {
                for key in keys { Output.line(key.text) }
            }
        }
    }
}
