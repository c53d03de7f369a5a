import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import Foundation

/// The nodes this vault trusts to hand items over (`custos peer add`): each one's verifier key,
/// `keys/peers/<origin>.vkey`, where the origin's bytes other than letters, digits, `.`, `-` and
/// `_` are written `%XX` (an origin such as `mjib.example.tw/evidence` holds a `/`). Mode 0400:
/// a key, once known, is never replaced. Beside it, `keys/peers/<origin>.checkpoint`: the largest
/// signed checkpoint received from that peer (`custos receive` compares each handover's with it).
extension Vault {
    public var peersPath: RawPath { root.appending("keys").appending("peers") }

    /// The file of a peer's key.
    public func peerKeyPath(origin: String) -> RawPath {
        peersPath.appending(Self.peerFileName(origin: origin) + ".vkey")
    }

    /// The file of the largest signed checkpoint received from a peer.
    public func peerCheckpointPath(origin: String) -> RawPath {
        peersPath.appending(Self.peerFileName(origin: origin) + ".checkpoint")
    }

    /// A peer's origin as a file name: bytes other than letters, digits, `.` (not first), `-` and
    /// `_` written `%XX`.
    private static func peerFileName(origin: String) -> String {
        var name = ""
        for byte in origin.utf8 {
            let kept =
                (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
                || (byte == UInt8(ascii: ".") && !name.isEmpty)
            name += kept ? String(UnicodeScalar(byte)) : "%" + Hex.encode([byte]).uppercased()
        }
        return name
    }

    /// The signed checkpoint (signed-note text, verbatim) kept as the largest received from the
    /// peer `origin`; nil when none was kept yet. The caller checks its signature: this only reads.
    public func keptPeerCheckpoint(origin: String) throws -> String? {
        let path = peerCheckpointPath(origin: origin)
        guard FileSystem.exists(path) else { return nil }
        do {
            let bytes = try FileSystem.readFile(path)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw VaultError(.keyProblem, "\(path): is not UTF-8 text")
            }
            return text
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError(.storage, "\(path): cannot be read", cause: error)
        }
    }

    /// Keeps `note` (a signed checkpoint of the peer `origin`, checked by the caller) as the
    /// largest received from it: written beside its name (mode 0400), fsynced, renamed over the
    /// one kept before, and the folder fsynced. The caller holds the lock that orders receipts
    /// and compares first: this replaces whatever is kept.
    public func keepPeerCheckpoint(_ note: String, origin: String) throws {
        let path = peerCheckpointPath(origin: origin)
        do {
            try FileSystem.makeDirectory(peersPath, mode: 0o700)
            try FileSystem.writeDurably(Array(note.utf8), to: path, mode: 0o400)
        } catch {
            throw VaultError(.storage, "\(path): could not keep the peer's checkpoint", cause: error)
        }
    }

    /// What adding a peer's key did.
    public enum PeerAddition: Sendable, Equatable {
        case added
        /// The same key was known already; nothing changed.
        case alreadyKnown
    }

    /// Stores a peer's verifier key (signed-note form), durably, mode 0400. Refuses a malformed
    /// key, the node's own, and an origin that is already known with another key (a key is
    /// never replaced: remove the file by hand, knowingly, to change it).
    @discardableResult
    public func addPeer(keyText: String) throws -> (PeerAddition, NoteVerifierKey) {
        let text = keyText.trimmingCharacters(in: .whitespacesAndNewlines)
        let key: NoteVerifierKey
        do {
            key = try NoteVerifierKey(parsing: text, digester: OpenSSLSHA256())
        } catch {
            throw VaultError(.keyProblem, "not a signed-note verifier key (name+hash+base64): \(error)")
        }
        guard key.name != configuration.origin else {
            throw VaultError(.keyProblem, "\(key.name) is this node's own origin; a peer is another node")
        }
        let path = peerKeyPath(origin: key.name)
        if let known = try peerKey(origin: key.name) {
            guard known == key else {
                throw VaultError(
                    .alreadyExists,
                    "\(path): \(key.name) is already known with another key (\(known.text)); nothing was changed")
            }
            return (.alreadyKnown, key)
        }
        try FileSystem.makeDirectory(peersPath, mode: 0o700)
        // Written beside its name, then linked to it: link(2) never replaces a name, so two
        // additions at once keep the first key.
        let temporary = peersPath.appending(
            ".tmp-" + Vault.temporaryName(String(decoding: path.lastComponent, as: UTF8.self)))
        do {
            let file = try FileSystem.createExclusive(temporary, mode: 0o400)
            try file.write(Array((key.text + "\n").utf8))
            try file.sync()
        } catch {
            FileSystem.remove(temporary)
            throw VaultError(.storage, "\(temporary): could not write the peer's key", cause: error)
        }
        do {
            try FileSystem.linkDurably(temporary, to: path)
        } catch let error as FileSystemError where error.code == .exists {
            FileSystem.remove(temporary)
            guard try peerKey(origin: key.name) == key else {
                throw VaultError(.alreadyExists, "\(path): \(key.name) is already known with another key")
            }
            return (.alreadyKnown, key)
        } catch {
            FileSystem.remove(temporary)
            throw VaultError(.storage, "\(path): could not store the peer's key", cause: error)
        }
        return (.added, key)
    }

    /// The key of the peer `origin`; nil when it is not known. A key file that does not hold a
    /// key of that origin is an error, not an unknown peer.
    public func peerKey(origin: String) throws -> NoteVerifierKey? {
        let path = peerKeyPath(origin: origin)
        guard FileSystem.exists(path) else { return nil }
        let key = try readPeerKey(path)
        guard key.name == origin else {
            throw VaultError(.keyProblem, "\(path): holds a key of \(key.name), not of \(origin)")
        }
        return key
    }

    /// Every known peer's key, by origin.
    public func peerKeys() throws -> [NoteVerifierKey] {
        guard FileSystem.exists(peersPath) else { return [] }
        let names: [[UInt8]]
        do { names = try FileSystem.listDirectory(peersPath) } catch {
            throw VaultError(.storage, "\(peersPath): cannot be listed", cause: error)
        }
        // Each file must hold the key its name says, and never one of this node's own origin: a
        // file put there by hand is held to the rules `addPeer` keeps.
        return try names.filter { $0.starts(with: Array(".tmp-".utf8)) == false && $0.hasSuffix(".vkey") }
            .map { name -> NoteVerifierKey in
                let path = peersPath.appending(component: name)
                let key = try readPeerKey(path)
                guard peerKeyPath(origin: key.name) == path else {
                    throw VaultError(.keyProblem, "\(path): holds a key of \(key.name), which its name does not give")
                }
                guard key.name != configuration.origin else {
                    throw VaultError(.keyProblem, "\(path): holds a key of this node's own origin; refused")
                }
                return key
            }
            .sorted { $0.name < $1.name }
    }

    private func readPeerKey(_ path: RawPath) throws -> NoteVerifierKey {
        do {
            let bytes = try FileSystem.readFile(path)
            let text = String(decoding: bytes, as: UTF8.self)
            return try NoteVerifierKey(
                parsing: text.hasSuffix("\n") ? String(text.dropLast()) : text, digester: OpenSSLSHA256())
        } catch {
            throw VaultError(.keyProblem, "\(path): not a readable peer key", cause: error)
        }
    }
}

extension [UInt8] {
    fileprivate func hasSuffix(_ suffix: String) -> Bool { self.reversed().starts(with: suffix.utf8.reversed()) }
}
