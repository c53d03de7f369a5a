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
    /// A sparse member (GNU or pax sparse): its data in the file is not its bytes in order.
    public var isSparse: Bool = false
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
        /// Whether a member's bytes that are skipped are seeked over, not read (no tap then).
        let seeks: Bool
        let rawBytes: (UnsafeRawBufferPointer) -> Void
        let buffer: UnsafeMutableRawBufferPointer
        var readError: Int32 = 0
        /// Where the last chunk is (libarchive reads it until the next call).
        var chunk: UnsafeRawPointer?

        init(
            fd: Int32, pull: (() -> UnsafeRawBufferPointer?)? = nil, seeks: Bool = false,
            rawBytes: @escaping (UnsafeRawBufferPointer) -> Void
        ) {
            self.fd = fd
            self.pull = pull
            self.seeks = seeks
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

        /// Seeks over at most `request` bytes, never past the file's end (libarchive reads what
        /// is left, and finds it short); returns how many.
        func skip(_ request: Int64) -> Int64 {
            var status = stat()
            let here = lseek(fd, 0, SEEK_CUR)
            guard request > 0, here >= 0, fstat(fd, &status) == 0 else { return 0 }
            let skipped = max(0, min(request, Int64(status.st_size) - Int64(here)))
            return lseek(fd, off_t(skipped), SEEK_CUR) < 0 ? 0 : skipped
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

    /// Reads a plain tar from a file descriptor of a regular file, seeking over what
    /// `skipData` skips instead of reading it.
    public convenience init(seekingIn fileDescriptor: Int32, path: String) throws {
        try self.init(
            source: Source(fd: fileDescriptor, seeks: true, rawBytes: { _ in }), path: path, compressions: [.none])
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
        let result = archive_read_open2(
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
            },
            source.seeks
                ? { _, context, request in
                    Unmanaged<ArchiveReader.Source>.fromOpaque(context!).takeUnretainedValue().skip(request)
                } : nil, nil)
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
            isLink: archive_entry_hardlink(entry) != nil || archive_entry_symlink(entry) != nil,
            isSparse: archive_entry_sparse_count(entry) > 0)
    }

    /// Where the last header read began, in bytes from the start of the (uncompressed) input.
    public var headerOffset: Int64 { archive_read_header_position(archive) }

    /// Where the current member's data begins, right after `nextEntry` (before any of it is
    /// read): the bytes consumed so far.
    public var dataOffset: Int64 { archive_filter_bytes(archive, 0) }

    /// Skips the rest of the current member's data (seeked over, for `init(seekingIn:)`).
    public func skipData() throws {
        guard archive_read_data_skip(archive) == ARCHIVE_OK else {
            throw ArchiveError.from(archive, path: path, doing: "skipping data")
        }
    }

    /// Reads the current entry's next bytes; 0 at its end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = archive_read_data(archive, buffer.baseAddress, buffer.count)
        guard count >= 0 else { throw ArchiveError.from(archive, path: path, doing: "reading data") }
        return count
    }

    /// The current entry's next bytes where libarchive holds them (no copy), valid until the
    /// next call; nil at its end. `position` is how many bytes of the entry came before: a
    /// sparse entry, whose blocks leave holes, is refused (read it with `read(into:)`).
    public func nextBlock(position: Int64) throws -> UnsafeRawBufferPointer? {
        var block: UnsafeRawPointer?
        var count = 0
        var offset: Int64 = 0
        let result = archive_read_data_block(archive, &block, &count, &offset)
        if result == ARCHIVE_EOF { return nil }
        guard result == ARCHIVE_OK || result == ARCHIVE_WARN else {
            throw ArchiveError.from(archive, path: path, doing: "reading data")
        }
        guard offset == position else {
            throw ArchiveError(path: path, message: "a sparse member (a block at \(offset), not \(position))")
        }
        return UnsafeRawBufferPointer(start: block, count: count)
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
