import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import Foundation

/// An item's sealed archive read ahead, beside its original: a bundle gives each archive right
/// after its original, so while the pass reads the original, a thread of its own reads the
/// archive member that follows it straight from the file (`pread`, at the offset the original's
/// end gives), works out its SHA-256, decompresses it, and compares its evidence member byte for
/// byte with the original's chunks as the pass reads them. The decompressed original is then
/// never hashed a third time, and the pass seeks over the archive's bytes: each byte of the
/// bundle is still read and hashed once.
///
/// The pass uses what was read ahead only when its own reader finds the same member at the same
/// place (header and data offsets, name and size, not sparse); anything else (another member, a
/// short file, a bundle in another order) is read as before.
struct ArchiveAhead: Sendable {
    var headerOffset: Int64
    var dataOffset: Int64
    var pathname: [UInt8]
    var size: Int64
    /// The SHA-256 of the archive member's bytes.
    var sha256: Hash
    /// What it holds: `evidenceIsOriginal` set, and `evidence` only when that is false.
    var inside: BundleVerifier.ArchiveInside

    /// Reads the member whose header is at `offset` in `fd` when it is item `item`'s sealed
    /// archive (`top/items/<item>/archive.tar<suffix>`), comparing its evidence member with the
    /// chunks of `original`; nil when it is not, or the file ends before the member does.
    /// `limit`: no more bytes out of the archive than this.
    static func read(
        _ fd: Int32, at offset: Int64, item: String, top: String, limit: Int64, original: ChunkLane
    ) -> ArchiveAhead? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        // The header, read by libarchive as the pass's reader reads it.
        var position = offset
        let header: ArchiveEntryHeader
        let dataOffset: Int64
        do {
            let reader = try ArchiveReader(path: "read-ahead", compressions: [.none]) {
                let window = UnsafeMutableRawBufferPointer(rebasing: buffer[..<(64 << 10)])
                let count = (try? FileDescriptor.read(fd, into: window, at: position)) ?? 0
                guard count > 0 else { return nil }
                position += Int64(count)
                return UnsafeRawBufferPointer(rebasing: buffer[..<count])
            }
            guard let next = try reader.nextEntry(), reader.headerOffset == 0 else { return nil }
            header = next
            dataOffset = offset + reader.dataOffset
        } catch { return nil }
        let prefix = "\(top)/items/\(item)/"
        guard header.isRegularFile, !header.isLink, !header.isSparse, header.size >= 0,
            let name = String(validating: header.pathname, as: UTF8.self), name.hasPrefix(prefix),
            let compression = Compression.allCases.first(where: { prefix + "archive" + $0.suffix == name })
        else { return nil }
        // The member's bytes, straight from the file, hashed as they go to the decompressor.
        let sha256 = MessageDigest(.sha256)
        var read: Int64 = 0
        var short = false
        func next() -> UnsafeRawBufferPointer? {
            let wanted = Int(min(Int64(buffer.count), header.size - read))
            guard wanted > 0 else { return nil }
            let window = UnsafeMutableRawBufferPointer(rebasing: buffer[..<wanted])
            let count = (try? FileDescriptor.read(fd, into: window, at: dataOffset + read)) ?? 0
            guard count > 0 else {
                short = true
                return nil
            }
            read += Int64(count)
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            sha256.update(bytes)
            return bytes
        }
        var inside = BundleVerifier.archiveContents(
            name: name, compression: compression, limit: limit, compare: original, pull: next)
        // What the decompressor did not need (or could not read) is hashed all the same.
        while next() != nil {}
        guard !short else { return nil }
        // Not the original: read it again to say what it holds (its evidence member's SHA-256),
        // so a bundle whose original was changed fails its original, not its sealed archive.
        if inside.problem == nil, inside.evidenceIsOriginal == false {
            var again: Int64 = 0
            let rehashed = BundleVerifier.archiveContents(name: name, compression: compression, limit: limit) {
                let wanted = Int(min(Int64(buffer.count), header.size - again))
                let window = UnsafeMutableRawBufferPointer(rebasing: buffer[..<max(0, wanted)])
                let count = wanted > 0 ? (try? FileDescriptor.read(fd, into: window, at: dataOffset + again)) ?? 0 : 0
                guard count > 0 else { return nil }
                again += Int64(count)
                return UnsafeRawBufferPointer(rebasing: buffer[..<count])
            }
            inside.evidence = rehashed.evidence
            inside.problem = rehashed.problem
        }
        return ArchiveAhead(
            headerOffset: offset, dataOffset: dataOffset, pathname: header.pathname, size: header.size,
            sha256: sha256.finishSHA256(), inside: inside)
    }
}

/// Compares bytes, as they come, with the chunks of a lane in order.
final class LaneComparison {
    private let lane: ChunkLane
    private var chunk: Chunk?
    private var offset = 0
    private(set) var equal = true

    init(_ lane: ChunkLane) { self.lane = lane }

    deinit { chunk?.release() }

    /// The next bytes; once they differ, the rest is not looked at.
    func compare(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes[...]
        while equal, !rest.isEmpty {
            if chunk == nil || offset == chunk!.count {
                chunk?.release()
                offset = 0
                chunk = lane.take()
                guard chunk != nil else {
                    equal = false
                    return
                }
            }
            let bytes = chunk!.bytes
            let count = min(rest.count, bytes.count - offset)
            if memcmp(bytes.baseAddress! + offset, UnsafeRawBufferPointer(rebasing: rest).baseAddress!, count) != 0 {
                equal = false
            }
            offset += count
            rest = rest.dropFirst(count)
        }
    }

    /// Whether the bytes compared are the lane's, all of them (it waits for the lane's end).
    func finish() -> Bool {
        if let chunk, offset < chunk.count { equal = false }
        chunk?.release()
        chunk = nil
        guard equal else { return false }
        if let more = lane.take() {
            more.release()
            equal = false
        }
        return equal
    }
}
