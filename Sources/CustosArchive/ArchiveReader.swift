import CArchive
import CustosFormats
import Glibc

/// One entry's header, as read back from an archive.
public struct ArchiveEntryHeader: Sendable {
    /// The pathname bytes as stored.
    public var pathname: [UInt8]
    public var size: Int64
    public var isRegularFile: Bool
    /// A hard link or a symbolic link (a hard link's header says "regular file" with no data):
    /// readers of foreign archives refuse these by this, not by the file type alone.
    public var isLink: Bool
}

/// Reads an archive (any compression libarchive knows) from a file descriptor, handing every raw
/// byte of the file to `rawBytes` as it goes, so the archive's own digest is computed in the same
/// pass that decompresses it. Owns the `struct archive`, freed in `deinit`.
public final class ArchiveReader {
    private let archive: OpaquePointer
    private let source: Source
    private let path: String

    /// Feeds libarchive from the file descriptor (or from `pull`) and taps the raw bytes.
    final class Source {
        let fd: Int32
        let pull: (() -> UnsafeRawBufferPointer?)?
        let rawBytes: (UnsafeRawBufferPointer) -> Void
        let buffer: UnsafeMutableRawBufferPointer
        var readError: Int32 = 0
        /// Where the last chunk is (libarchive reads it until the next call).
        var chunk: UnsafeRawPointer?

        init(
            fd: Int32, pull: (() -> UnsafeRawBufferPointer?)? = nil,
            rawBytes: @escaping (UnsafeRawBufferPointer) -> Void
        ) {
            self.fd = fd
            self.pull = pull
            self.rawBytes = rawBytes
            buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pull == nil ? 1 << 20 : 0, alignment: 16)
        }

        deinit { buffer.deallocate() }

        /// Reads the next chunk; the chunk stays valid until the next call (libarchive's rule).
        func next() -> Int {
            if let pull {
                guard let bytes = pull(), !bytes.isEmpty else { return 0 }
                rawBytes(bytes)
                chunk = bytes.baseAddress
                return bytes.count
            }
            while true {
                let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count < 0 {
                    readError = errno
                    return -1
                }
                if count > 0 { rawBytes(UnsafeRawBufferPointer(rebasing: buffer[..<count])) }
                chunk = UnsafeRawPointer(buffer.baseAddress)
                return count
            }
        }
    }

    /// Reads a tar compressed with one of `compressions` (the vault's four by default); no
    /// other filter is enabled, so an untrusted file never makes libarchive run an external
    /// decompressor (lrzip, grzip, lzop) or one Custos does not write.
    public convenience init(
        fileDescriptor: Int32, path: String, compressions: Set<Compression> = Set(Compression.allCases),
        rawBytes: @escaping (UnsafeRawBufferPointer) -> Void = { _ in }
    ) throws {
        try self.init(source: Source(fd: fileDescriptor, rawBytes: rawBytes), path: path, compressions: compressions)
    }

    /// Reads an archive whose bytes `pull` hands over chunk by chunk (nil or empty at the end):
    /// each chunk must stay readable until the next call. Nothing is copied on the way in.
    public convenience init(
        path: String, compressions: Set<Compression> = Set(Compression.allCases),
        pull: @escaping () -> UnsafeRawBufferPointer?
    ) throws {
        try self.init(source: Source(fd: -1, pull: pull, rawBytes: { _ in }), path: path, compressions: compressions)
    }

    private init(source: Source, path: String, compressions: Set<Compression>) throws {
        guard let archive = archive_read_new() else {
            throw ArchiveError(path: path, message: "archive_read_new failed")
        }
        self.archive = archive
        self.path = path
        self.source = source
        for compression in compressions {
            switch compression {
            case .none: break  // a plain tar needs no filter
            case .zstd: archive_read_support_filter_zstd(archive)
            case .gzip: archive_read_support_filter_gzip(archive)
            case .xz: archive_read_support_filter_xz(archive)
            }
        }
        archive_read_support_format_tar(archive)
        let context = Unmanaged.passUnretained(source).toOpaque()
        let result = archive_read_open(
            archive, context, nil,
            { archive, context, buffer in
                let source = Unmanaged<ArchiveReader.Source>.fromOpaque(context!).takeUnretainedValue()
                let count = source.next()
                if count < 0 {
                    custos_archive_set_error(archive, source.readError, "read failed")
                    return -1
                }
                buffer?.pointee = source.chunk
                return count
            }, nil)
        guard result == ARCHIVE_OK else { throw ArchiveError.from(archive, path: path, doing: "opening") }
    }

    deinit { archive_read_free(archive) }

    /// The next entry's header, or nil at the end of the archive.
    public func nextEntry() throws -> ArchiveEntryHeader? {
        var entry: OpaquePointer?
        let result = archive_read_next_header(archive, &entry)
        if result == ARCHIVE_EOF { return nil }
        guard result == ARCHIVE_OK || result == ARCHIVE_WARN, let entry else {
            throw ArchiveError.from(archive, path: path, doing: "reading an entry header")
        }
        let name = archive_entry_pathname_utf8(entry) ?? archive_entry_pathname(entry)
        let pathname = name.map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? []
        return ArchiveEntryHeader(
            pathname: pathname, size: archive_entry_size(entry),
            isRegularFile: archive_entry_filetype(entry) == custos_archive_ifreg(),
            isLink: archive_entry_hardlink(entry) != nil || archive_entry_symlink(entry) != nil)
    }

    /// Reads the current entry's next bytes; 0 at its end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = archive_read_data(archive, buffer.baseAddress, buffer.count)
        guard count >= 0 else { throw ArchiveError.from(archive, path: path, doing: "reading data") }
        return count
    }

    /// Reads the current entry whole (for small members such as the manifest).
    public func readAll(limit: Int = 16 << 20) throws -> [UInt8] {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if count == 0 { return out }
            out.append(contentsOf: chunk[..<count])
            guard out.count <= limit else {
                throw ArchiveError(path: path, message: "member larger than \(limit) bytes")
            }
        }
    }

    /// Reads the rest of the file that libarchive did not need (block padding), so `rawBytes`
    /// has seen every byte of the file.
    public func drainRawBytes() throws {
        while true {
            let count = source.next()
            if count < 0 { throw ArchiveError(path: path, message: "read failed", errno: source.readError) }
            if count == 0 { return }
        }
    }
}
