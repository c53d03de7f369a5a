import CustosArchive
import CustosFormats
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// A file opened for writing, closed when the value goes away.
final class OutputFile {
    let path: String
    let fd: Int32

    init(_ path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    }

    deinit { close(fd) }
}

let modified = timespec(tv_sec: 1_764_547_200, tv_nsec: 123_456_789)

/// Writes an archive of `members` (name, bytes) to `path`, in chunks of `chunk` bytes; the bytes
/// the tap saw, in order.
@discardableResult
func writeArchive(
    _ path: String, _ members: [(String, [UInt8])], compression: Compression, threads: Int = 0,
    chunk: Int = 100_000
) throws -> [UInt8] {
    let file = try OutputFile(path)
    var tapped = [UInt8]()
    try withExtendedLifetime(file) {
        let writer = try ArchiveWriter(
            fileDescriptor: file.fd, path: path, compression: compression, compressionThreads: threads,
            tap: { tapped.append(contentsOf: $0) })
        for (name, bytes) in members {
            try writer.beginFile(name: name, size: Int64(bytes.count), permissions: 0o640, modified: modified)
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + chunk, bytes.count)
                try bytes[offset..<end].withUnsafeBytes { try writer.write($0) }
                offset = end
            }
        }
        try writer.finish()
    }
    return tapped
}

func fileBytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

@Suite("libarchive: writing and reading sealed archives", .timeLimit(.minutes(2)))
struct ArchiveTests {
    /// The magic number each compression's file starts with (an uncompressed tar: the first name).
    static let magic: [Compression: [UInt8]] = [
        .none: Array("evidence/".utf8), .zstd: [0x28, 0xB5, 0x2F, 0xFD], .gzip: [0x1F, 0x8B],
        .xz: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00],
    ]

    /// Each compression: `bsdtar` lists the members with their sizes and gives back their bytes,
    /// the tap saw exactly the file's bytes, and `ArchiveReader` reads it all back too.
    @Test(arguments: Compression.allCases, [0, 2])
    func aRoundTripThroughBsdtarAndTheReader(_ compression: Compression, _ threads: Int) throws {
        let directory = TemporaryDirectory("archive")
        let path = directory.file("a" + compression.suffix)
        let large = randomBytes((2 << 20) + 777)
        let text = Array(String(repeating: "a compressible line of a log\n", count: 40_000).utf8)
        let members: [(String, [UInt8])] = [
            ("evidence/large.bin", large), ("evidence/ünïcode name.log", text), ("empty", []),
        ]
        let tapped = try writeArchive(path, members, compression: compression, threads: threads)
        #expect(tapped == (try fileBytes(path)))

        let listing = try run("bsdtar", ["-tvf", path])
        #expect(listing.status == 0, "\(listing.stderr)")
        let lines = listing.output.split(separator: "\n")
        #expect(lines.count == 3, "\(listing.output)")
        for ((name, bytes), line) in zip(members, lines) {
            #expect(line.hasSuffix(" " + name), "\(line)")
            #expect(line.hasPrefix("-rw-r-----"), "\(line)")
            #expect(line.split(separator: " ", omittingEmptySubsequences: true)[4] == "\(bytes.count)", "\(line)")
            let extracted = try run("bsdtar", ["-xOf", path, name])
            #expect(extracted.status == 0 && extracted.stdout == bytes, "\(name): \(extracted.stderr)")
        }
        #expect(try fileBytes(path).starts(with: Self.magic[compression]!))

        var raw = [UInt8]()
        let input = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(input) }
        let reader = try ArchiveReader(fileDescriptor: input, path: path) { raw.append(contentsOf: $0) }
        var read = [(String, [UInt8])]()
        while let header = try reader.nextEntry() {
            #expect(header.isRegularFile)
            let bytes = try reader.readAll(limit: 8 << 20)
            #expect(Int64(bytes.count) == header.size)
            read.append((String(decoding: header.pathname, as: UTF8.self), bytes))
        }
        try reader.drainRawBytes()
        #expect(read.map(\.0) == members.map(\.0))
        #expect(read.map(\.1) == members.map(\.1))
        #expect(raw == (try fileBytes(path)))
    }

    /// The zstd frames the workers write are one zstd stream that the `zstd` tool decompresses
    /// (its checksums checked) to the very tar that an uncompressed archive of the same members is.
    @Test(arguments: [0, 1, 3])
    func zstdFramesDecompressWithTheZstdToolToThePlainTar(_ threads: Int) throws {
        let directory = TemporaryDirectory("archive")
        let members: [(String, [UInt8])] = [
            ("evidence/mixed.bin", randomBytes(1 << 20) + [UInt8](repeating: 7, count: 3 << 20) + randomBytes(5000)),
            ("manifest.json", Array(#"{"a":1}"#.utf8)),
        ]
        let zstd = directory.file("a.tar.zst")
        let plain = directory.file("a.tar")
        try writeArchive(zstd, members, compression: .zstd, threads: threads, chunk: 65536)
        try writeArchive(plain, members, compression: .none)

        let test = try run("zstd", ["-t", "-q", zstd])
        #expect(test.status == 0, "\(test.stderr)")
        let decompressed = try run("zstd", ["-d", "-c", "-q", zstd])
        #expect(decompressed.status == 0, "\(decompressed.stderr)")
        #expect(decompressed.stdout == (try fileBytes(plain)))
        // More than 4 MiB of tar: several independent frames.
        let frames = try run("zstd", ["-l", "-v", zstd])
        let line = frames.output.split(separator: "\n").first { $0.contains("# Zstandard Frames") }
        let count = line.flatMap { Int($0.split(separator: " ").last ?? "") }
        #expect((count ?? 0) >= 4, "\(frames.output)")
    }

    /// An archive given up half-way (an error, a refusal) writes nothing more once abandoned:
    /// not even what was already handed to its compressor. Its tap sees nothing more either.
    @Test(arguments: Compression.allCases)
    func anAbandonedArchiveWritesNothingMore(_ compression: Compression) throws {
        let directory = TemporaryDirectory("archive")
        let path = directory.file("abandoned")
        let file = try OutputFile(path)
        var tapped = 0
        try withExtendedLifetime(file) {
            let writer = try ArchiveWriter(
                fileDescriptor: file.fd, path: path, compression: compression, compressionThreads: 2,
                tap: { tapped += $0.count })
            let bytes = randomBytes(3 << 20)
            try writer.beginFile(name: "evidence/x", size: 8 << 20, permissions: 0o600, modified: modified)
            try bytes.withUnsafeBytes { try writer.write($0) }
        }
        // The writer is gone: whatever its threads did is done.
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size == tapped)
        switch compression {
        case .none:
            // Only the 64 KiB blocks that filled (the header and 3 MiB fill 48), no last block, no
            // end of the archive: a reader finds it cut short.
            #expect(size % 65536 == 0 && size <= 3 << 20, "\(size)")
            let listing = try run("bsdtar", ["-tf", path])
            #expect(listing.status != 0, "\(listing.output)")
        case .zstd:
            // Only whole frames: what was written is a sound zstd stream, cut between frames.
            if size > 0 {
                let test = try run("zstd", ["-t", "-q", path])
                #expect(test.status == 0, "\(test.stderr)")
            }
        default:
            #expect(size < 3 << 20, "\(size)")
        }
    }

    /// A full disk surfaces as an `ArchiveError` with errno ENOSPC, whether libarchive or the zstd
    /// frame writer meets it.
    @Test(arguments: Compression.allCases, [0, 2])
    func aWriteErrorSurfacesAsAnArchiveError(_ compression: Compression, _ threads: Int) throws {
        let full = try OutputFile("/dev/full")
        var thrown: ArchiveError?
        do {
            defer { withExtendedLifetime(full) {} }
            let writer = try ArchiveWriter(
                fileDescriptor: full.fd, path: "/dev/full", compression: compression, compressionThreads: threads)
            let bytes = randomBytes(3 << 20)
            try writer.beginFile(name: "evidence/x", size: Int64(bytes.count), permissions: 0o600, modified: modified)
            try bytes.withUnsafeBytes { try writer.write($0) }
            try writer.finish()
        } catch let error as ArchiveError {
            thrown = error
        }
        let error = try #require(thrown, "writing to /dev/full succeeded")
        #expect(error.path == "/dev/full")
        // zstd's frame writer keeps the errno of the write that failed; libarchive's own filters
        // pass it on too.
        #expect(error.errno == ENOSPC, "\(error) errno \(error.errno)")
    }

    @Test func theReaderRefusesWhatIsNotAnArchive() throws {
        let directory = TemporaryDirectory("archive")
        let path = try directory.write("not.tar", randomBytes(10_000))
        let input = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(input) }
        #expect(throws: ArchiveError.self) {
            let reader = try ArchiveReader(fileDescriptor: input, path: path)
            while try reader.nextEntry() != nil {}
        }
    }

    /// A truncated zstd archive: the reader fails, never returns a short member as whole.
    @Test func theReaderRefusesATruncatedArchive() throws {
        let directory = TemporaryDirectory("archive")
        let path = directory.file("a.tar.zst")
        let content = randomBytes(3 << 20)
        try writeArchive(path, [("evidence/x", content)], compression: .zstd, threads: 2)
        let bytes = try fileBytes(path)
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: path))
        let input = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(input) }
        #expect(throws: ArchiveError.self) {
            let reader = try ArchiveReader(fileDescriptor: input, path: path)
            while try reader.nextEntry() != nil { _ = try reader.readAll(limit: 8 << 20) }
        }
    }

    /// A plain tar read with seeks: each member's data is where `dataOffset` says, `headerOffset`
    /// is where its header began (pax headers of long names included), and `skipData` seeks
    /// over the data so the next member reads as it should.
    @Test func offsetsAndSkippingOfAPlainTar() throws {
        let directory = TemporaryDirectory("archive")
        let path = directory.file("plain.tar")
        let long = String(repeating: "名", count: 80)
        let members: [(String, [UInt8])] = [
            ("top/\(long)/first", randomBytes(1_000)), ("top/second", randomBytes(3 << 20)),
            ("top/third", Array("third".utf8)),
        ]
        try writeArchive(path, members, compression: .none)
        let input = open(path, O_RDONLY | O_CLOEXEC)
        #expect(input >= 0)
        defer { close(input) }
        let reader = try ArchiveReader(seekingIn: input, path: path)
        var expectedHeader: Int64 = 0
        for (index, (name, bytes)) in members.enumerated() {
            let header = try #require(try reader.nextEntry())
            #expect(header.pathname == Array(name.utf8) && !header.isSparse)
            #expect(reader.headerOffset == expectedHeader)
            let offset = reader.dataOffset
            var read = [UInt8](repeating: 0, count: bytes.count)
            #expect(
                read.withUnsafeMutableBytes { pread(input, $0.baseAddress, bytes.count, off_t(offset)) } == bytes.count)
            #expect(read == bytes)
            switch index {
            case 1: try reader.skipData()
            case 2:
                var blocks = [UInt8]()
                while let block = try reader.nextBlock(position: Int64(blocks.count)) { blocks += block }
                #expect(blocks == bytes)
            default: #expect(try reader.readAll(limit: 8 << 20) == bytes)
            }
            expectedHeader = offset + (Int64(bytes.count) + 511) / 512 * 512
        }
        #expect(try reader.nextEntry() == nil)
    }
}
