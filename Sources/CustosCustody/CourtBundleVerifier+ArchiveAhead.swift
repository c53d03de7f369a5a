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

    /// Where the member after this one begins, as libarchive found it reading this one's data
    /// (the pass must find its next header there, having seeked over this member).
    var nextHeaderOffset: Int64

    /// Reads the member whose header is at `offset` in `fd` when it is item `item`'s sealed
    /// archive (`top/items/<item>/archive.tar<suffix>`), comparing its evidence member with the
    /// chunks of `original`; nil when it is not, or when its bytes are not plainly its declared
    /// size in order (a short file, a sparse or hole-data member: the pass reads those itself).
    /// `limit`: no more bytes out of the archive than this.
    ///
    /// Its bytes are read as `bsdtar -x` reads them, through libarchive's data path (not the
    /// file's bytes after the header, which a sparse map may use otherwise).
    static func read(
        _ fd: Int32, at offset: Int64, item: String, top: String, limit: Int64, original: ChunkLane
    ) -> ArchiveAhead? {
        guard let (outer, header, dataOffset) = open(fd, at: offset) else { return nil }
        let prefix = "\(top)/items/\(item)/"
        guard header.isRegularFile, !header.isLink, !header.isSparse, header.size >= 0,
            let name = String(validating: header.pathname, as: UTF8.self), name.hasPrefix(prefix),
            let compression = Compression.allCases.first(where: { prefix + "archive" + $0.suffix == name })
        else { return nil }
        // The member's bytes, hashed as they go to the decompressor.
        let sha256 = MessageDigest(.sha256)
        let bytes = MemberBytes(outer) { sha256.update($0) }
        var inside = BundleVerifier.archiveContents(
            name: name, compression: compression, limit: limit, compare: original, pull: bytes.next)
        // What the decompressor did not need (or could not read) is hashed all the same.
        while bytes.next() != nil {}
        guard !bytes.broken, bytes.position == header.size, (try? outer.nextEntry()) != nil else { return nil }
        let nextHeaderOffset = offset + outer.headerOffset
        // Not the original: read it again to say what it holds (its evidence member's SHA-256),
        // so a bundle whose original was changed fails its original, not its sealed archive.
        if inside.problem == nil, inside.evidenceIsOriginal == false {
            guard let (again, _, _) = open(fd, at: offset) else { return nil }
            let rehashed = BundleVerifier.archiveContents(
                name: name, compression: compression, limit: limit, pull: MemberBytes(again).next)
            inside.evidence = rehashed.evidence
            inside.problem = rehashed.problem
        }
        return ArchiveAhead(
            headerOffset: offset, dataOffset: dataOffset, pathname: header.pathname, size: header.size,
            sha256: sha256.finishSHA256(), inside: inside, nextHeaderOffset: nextHeaderOffset)
    }

    /// A plain tar read from `offset` of the file (`pread`: the pass's offset is left alone), and
    /// its first member's header, which must begin there, and where its data begins.
    private static func open(_ fd: Int32, at offset: Int64) -> (ArchiveReader, ArchiveEntryHeader, Int64)? {
        let source = FileWindow(fd, from: offset)
        guard let reader = try? ArchiveReader(path: "read-ahead", compressions: [.none], pull: source.next),
            let header = try? reader.nextEntry(), reader.headerOffset == 0
        else { return nil }
        return (reader, header, offset + reader.dataOffset)
    }
}

/// A file's bytes from an offset on, 1 MiB at a time, by `pread`; each chunk readable until the
/// next.
private final class FileWindow {
    private let fd: Int32
    private var position: Int64
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)

    init(_ fd: Int32, from offset: Int64) {
        self.fd = fd
        position = offset
    }

    deinit { buffer.deallocate() }

    func next() -> UnsafeRawBufferPointer? {
        let count = (try? FileDescriptor.read(fd, into: buffer, at: position)) ?? 0
        guard count > 0 else { return nil }
        position += Int64(count)
        return UnsafeRawBufferPointer(rebasing: buffer[..<count])
    }
}

/// The current member's bytes as libarchive's data path gives them, in order from its start
/// (`broken` when they are not: a sparse map, a hole, an error), never an empty chunk.
private final class MemberBytes {
    private let reader: ArchiveReader
    private let tap: (UnsafeRawBufferPointer) -> Void
    private(set) var position: Int64 = 0
    private(set) var broken = false

    init(_ reader: ArchiveReader, tap: @escaping (UnsafeRawBufferPointer) -> Void = { _ in }) {
        self.reader = reader
        self.tap = tap
    }

    func next() -> UnsafeRawBufferPointer? {
        while !broken {
            do {
                guard let block = try reader.nextBlock(position: position) else { return nil }
                guard !block.isEmpty else { continue }
                position += Int64(block.count)
                tap(block)
                return block
            } catch {
                broken = true
            }
        }
        return nil
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
