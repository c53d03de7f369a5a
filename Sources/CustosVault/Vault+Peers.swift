import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import Foundation

/// The nodes this vault trusts to hand items over (`custos peer add`): each one's verifier key,
/// `keys/peers/<origin>.vkey`, where the origin's bytes other than letters, digits, `.`, `-` and
/// `_` are written `%XX` (an origin such as `mjib.example.tw/evidence` holds a `/`). Mode 0400:
/// a key, once known, is never replaced. Beside it, the folder `keys/peers/<origin>.checkpoints/`:
/// every signed checkpoint received from that peer, one file per size (`<size>`, in decimal),
/// each written once and never replaced (`custos receive` compares each handover's with them).
extension Vault {
    public var peersPath: RawPath { root.appending("keys").appending("peers") }

    /// The file of a peer's key.
    public func peerKeyPath(origin: String) -> RawPath {
        peersPath.appending(Self.peerFileName(origin: origin) + ".vkey")
    }

    /// The folder of the signed checkpoints received from a peer, one file per size.
    public func peerCheckpointsPath(origin: String) -> RawPath {
        peersPath.appending(Self.peerFileName(origin: origin) + ".checkpoints")
    }

    /// The file of the signed checkpoint of size `size` received from a peer.
    public func peerCheckpointPath(origin: String, size: UInt64) -> RawPath {
        peerCheckpointsPath(origin: origin).appending(String(size))
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

    /// A signed checkpoint kept from a peer: the size its file is named by, the file, and its
    /// text (signed-note text, verbatim).
    public struct KeptPeerCheckpoint: Sendable, Equatable {
        public var size: UInt64
        public var path: RawPath
        public var text: String
    }

    /// Every signed checkpoint kept from the peer `origin`, by size (smallest first); empty when
    /// none was kept yet. The caller checks each one's signature, origin and size (that the
    /// name's size is the checkpoint's): this only reads. A file whose name is not a size is
    /// refused, not passed over: nothing but checkpoints is kept there.
    public func keptPeerCheckpoints(origin: String) throws -> [KeptPeerCheckpoint] {
        let folder = peerCheckpointsPath(origin: origin)
        guard FileSystem.exists(folder) else { return [] }
        let names: [[UInt8]]
        do { names = try FileSystem.listDirectory(folder) } catch {
            throw VaultError(.storage, "\(folder): cannot be listed", cause: error)
        }
        return try names.map { name -> KeptPeerCheckpoint in
            let path = folder.appending(component: name)
            let text = String(decoding: name, as: UTF8.self)
            guard let size = UInt64(text), String(size) == text else {
                throw VaultError(.keyProblem, "\(path): is not a checkpoint kept by its size (a decimal number)")
            }
            do {
                let bytes = try FileSystem.readFile(path)
                guard let note = String(validating: bytes, as: UTF8.self) else {
                    throw VaultError(.keyProblem, "\(path): is not UTF-8 text")
                }
                return KeptPeerCheckpoint(size: size, path: path, text: note)
            } catch let error as VaultError {
                throw error
            } catch {
                throw VaultError(.storage, "\(path): cannot be read", cause: error)
            }
        }
        .sorted { $0.size < $1.size }
    }

    /// Keeps `note`, a signed checkpoint of size `size` of the peer `origin` (checked by the
    /// caller), as `keys/peers/<origin>.checkpoints/<size>`: written beside the folder as a new
    /// temporary (mode 0400), fsynced, then linked to its name, which never replaces a file,
    /// and both folders fsynced. Returns false, changing nothing, when a checkpoint of that size
    /// is kept already: the caller, which holds the lock that orders receipts, has compared the
    /// two first, so it is the same one.
    @discardableResult
    public func keepPeerCheckpoint(_ note: String, size: UInt64, origin: String) throws -> Bool {
        let folder = peerCheckpointsPath(origin: origin)
        let path = peerCheckpointPath(origin: origin, size: size)
        let temporary = peersPath.appending(
            ".tmp-" + Vault.temporaryName(String(decoding: folder.lastComponent, as: UTF8.self) + "-\(size)"))
        do {
            try FileSystem.makeDirectory(folder, mode: 0o700)
            FileSystem.remove(temporary)  // one a crash of a process of the same pid left
            let file = try FileSystem.createExclusive(temporary, mode: 0o400)
            try file.write(Array(note.utf8))
            try file.sync()
        } catch {
            FileSystem.remove(temporary)
            throw VaultError(.storage, "\(temporary): could not write the peer's checkpoint", cause: error)
        }
        do {
            try FileSystem.linkDurably(temporary, to: path)
        } catch let error as FileSystemError where error.code == .exists {
            FileSystem.remove(temporary)
            return false
        } catch {
            FileSystem.remove(temporary)
            throw VaultError(.storage, "\(path): could not keep the peer's checkpoint", cause: error)
        }
        return true
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
