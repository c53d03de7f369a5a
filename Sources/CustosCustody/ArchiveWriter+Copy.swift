import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosOpenSSL

extension ArchiveWriter {
    /// Copies the member begun for `size` bytes from `source` (from its current offset),
    /// hashing what it copies: a file that grew stops the copy at one chunk past `size` (the
    /// caller compares `copied` with `size`), one that shrank ends it early. The caller
    /// compares the SHA-256 with what the ledger records: a handover's or a bundle's archive.
    func copyHashing(from source: FileDescriptor, size: Int64) throws -> (copied: Int64, sha256: Hash) {
        let digest = MessageDigest(.sha256)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var copied: Int64 = 0
        while true {
            let count = try source.read(into: buffer)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            copied += Int64(count)
            guard copied <= size else { break }
            digest.update(chunk)
            try write(chunk)
        }
        return (copied, digest.finishSHA256())
    }
}
