import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import CustosService
import Foundation

/// A file of the caller's sent to the daemon as an upload's body (`ingest`, `receive`): opened
/// by this process, as the caller, by the rules of the direct path (`FileSystem.openEvidence`:
/// no link followed, a regular file only), read once and hashed as it goes, and re-checked
/// before its last bytes leave: a file that changed while it was sent is cut short, and the
/// daemon keeps nothing of it.
enum FileUpload {
    struct Outcome {
        var reply: ServiceReply
        /// The SHA-256 of the bytes read here and sent.
        var sha256: Hash
    }

    /// The file could not be sent whole: the daemon kept nothing of it.
    struct Refusal: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The path a file is declared by: its folder's real path (links, `.` and `..` resolved)
    /// and its own name, which is never followed; as given, made absolute, when the folder
    /// cannot be resolved.
    static func declaredPath(_ path: RawPath) -> RawPath {
        let absolute = path.absolute
        guard let folder = FileSystem.realPath(absolute.parent) else { return absolute }
        return folder.appending(component: absolute.lastComponent)
    }

    /// Sends `path` as the body of `operation`, with the arguments `arguments` makes of the
    /// file's status. A daemon busy with other uploads is asked again, after 1, 2, 4, … seconds,
    /// for up to two minutes (the file opened and read anew each time).
    static func send(
        _ path: RawPath, socket: String, operation: ServiceOperation, arguments: (FileStatus) -> JSONObject
    ) throws -> Outcome {
        var wait = 1.0
        var waited = 0.0
        while true {
            let outcome = try sendOnce(path, socket: socket, operation: operation, arguments: arguments)
            guard outcome.reply.result == nil, outcome.reply.failure?.code == .busy, waited < 120 else {
                return outcome
            }
            if waited == 0 { Output.error("custos: \(path): the daemon is busy with other uploads; waiting") }
            Thread.sleep(forTimeInterval: wait)
            waited += wait
            wait = min(wait * 2, 16)
        }
    }

    private static func sendOnce(
        _ path: RawPath, socket: String, operation: ServiceOperation, arguments: (FileStatus) -> JSONObject
    ) throws -> Outcome {
        let file: FileDescriptor
        let before: FileStatus
        do {
            (file, before) = try FileSystem.openEvidence(path)
        } catch {
            throw Refusal(message: "\(error)")
        }
        file.adviseSequential()
        let sha256 = MessageDigest(.sha256)
        let reply = try Gateway.upload(socket: socket, operation, arguments(before), length: before.size) { send in
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var left = before.size
            while left > 0 {
                let count: Int
                do {
                    count = try buffer.withUnsafeMutableBytes { bytes in
                        try file.read(
                            into: UnsafeMutableRawBufferPointer(rebasing: bytes[..<Int(min(Int64(bytes.count), left))]))
                    }
                } catch {
                    throw Refusal(message: "\(path): cannot be read: \(error); nothing was recorded")
                }
                guard count > 0 else {
                    throw Refusal(
                        message:
                            "\(path): changed while it was being sent (it ended \(left) bytes early); nothing was recorded"
                    )
                }
                left -= Int64(count)
                try buffer.withUnsafeBytes { bytes in
                    let chunk = UnsafeRawBufferPointer(rebasing: bytes[..<count])
                    sha256.update(chunk)
                    if left == 0 {
                        // The last bytes leave only for a file that did not change meanwhile.
                        let after = try file.status()
                        guard after.isSameContent(as: before), after.linkCount > 0 || before.linkCount == 0 else {
                            throw Refusal(
                                message:
                                    "\(path): changed while it was being sent; nothing was recorded, send it again once it is complete"
                            )
                        }
                    }
                    try send(chunk)
                }
            }
        }
        return Outcome(reply: reply, sha256: Hash(bytes: sha256.finish())!)
    }
}
