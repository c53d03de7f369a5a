import CArchive
import CustosFormats
import Foundation
import Glibc

/// Writes one POSIX pax archive to an open file descriptor. Owns the `struct archive`, freed in
/// `deinit`; use from one thread at a time.
public final class ArchiveWriter {
    private let archive: OpaquePointer
    private let path: String
    private let sink: Sink
    private var closed = false

    /// Writes libarchive's output to the file descriptor, handing every byte to `tap` first;
    /// for zstd, through `ZstdFrameWriter` (libarchive writes the plain tar). After a failed
    /// write it writes nothing more (libarchive would retry the block and go on); an archive
    /// abandoned unfinished is discarded without a single write, and only once no compression
    /// thread will write again, so that whichever thread frees it last never touches a
    /// descriptor its owner may have closed.
    final class Sink {
        let fd: Int32
        let tap: (UnsafeRawBufferPointer) -> Void
        /// The errno of the first failed write (set on the writing thread, read after a join).
        private let lock = NSLock()
        private var failedErrno: Int32 = 0
        var discarding = false
        var frames: ZstdFrameWriter?

        init(fd: Int32, tap: @escaping (UnsafeRawBufferPointer) -> Void) {
            self.fd = fd
            self.tap = tap
        }

        var writeError: Int32 { lock.withLock { failedErrno } }

        /// What libarchive hands on.
        func write(_ bytes: UnsafeRawBufferPointer) -> Int {
            if discarding { return bytes.count }
            if writeError != 0 { return -1 }
            if let frames {
                guard frames.write(bytes) else {
                    lock.withLock { if failedErrno == 0 { failedErrno = EIO } }
                    return -1
                }
                return bytes.count
            }
            return writeToFile(bytes) ? bytes.count : -1
        }

        /// Writes all of `bytes` to the file, then to the tap. False (errno kept) on failure.
        func writeToFile(_ bytes: UnsafeRawBufferPointer) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let count = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    lock.withLock { failedErrno = code }
                    return false
                }
                offset += count
            }
            tap(bytes)
            return true
        }
    }

    /// libarchive needs a UTF-8 locale for UTF-8 names (in the "C" locale it crashes on them).
    private static let utf8Locale: Bool = setlocale(LC_CTYPE, "C.UTF-8") != nil

    /// Starts an archive on `fileDescriptor`; `tap` sees every byte written, in order (to hash the
    /// archive as it is made).
    ///
    /// zstd is written as independent frames of 1 MiB of tar each, compressed by
    /// `compressionThreads` workers of its own (none: on the caller's thread), so compressible
    /// data is not held to one core's pace, with memory bounded (`ZstdFrameWriter`).
    public init(
        fileDescriptor: Int32, path: String, compression: Compression, level: Int? = nil,
        compressionThreads: Int = 0, tap: @escaping (UnsafeRawBufferPointer) -> Void = { _ in }
    ) throws {
        _ = Self.utf8Locale
        guard let archive = archive_write_new() else {
            throw ArchiveError(path: path, message: "archive_write_new failed")
        }
        self.archive = archive
        self.path = path
        self.sink = Sink(fd: fileDescriptor, tap: tap)
        try check(archive_write_set_format_pax(archive), "setting the pax format")
        switch compression {
        case .none: try check(archive_write_add_filter_none(archive), "setting no compression")
        case .zstd:
            // The tar goes to the frame writer, which compresses and writes it.
            try check(archive_write_add_filter_none(archive), "setting no compression")
            // Weak: the sink holds the frame writer; the writer only writes through the sink
            // while the archive is open (finish and abandon join it first).
            sink.frames = try ZstdFrameWriter(
                level: Int32(level ?? 3), workers: compressionThreads,
                output: { [weak sink] in sink?.writeToFile($0) ?? false })
        case .gzip: try check(archive_write_add_filter_gzip(archive), "adding gzip")
        case .xz: try check(archive_write_add_filter_xz(archive), "adding xz")
        }
        if let level, compression != .none, compression != .zstd {
            try check(
                archive_write_set_filter_option(archive, nil, "compression-level", String(level)),
                "setting compression level \(level)")
        }
        // 64 KiB blocks: fewer write calls. The last block is not padded: zstd readers refuse
        // trailing zeros after the frame, and small items stay small.
        try check(archive_write_set_bytes_per_block(archive, 65536), "setting the block size")
        try check(archive_write_set_bytes_in_last_block(archive, 1), "setting the last block size")
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let opened = archive_write_open2(
            archive, context, nil,
            { archive, context, buffer, length in
                let sink = Unmanaged<ArchiveWriter.Sink>.fromOpaque(context!).takeUnretainedValue()
                let written = sink.write(UnsafeRawBufferPointer(start: buffer, count: length))
                if written < 0 { custos_archive_set_error(archive, sink.writeError, "write failed") }
                return written
            }, nil, nil)
        try check(opened, "opening")
    }

    deinit {
        // Unfinished (an error, a refusal): nothing more is written; the caller removes the file.
        if !closed {
            sink.discarding = true
            sink.frames?.abandon()
        }
        archive_write_free(archive)
    }

    private func check(_ result: Int32, _ what: String) throws {
        guard result == ARCHIVE_OK || result == ARCHIVE_WARN else {
            throw ArchiveError.from(archive, path: path, doing: what)
        }
    }

    /// Starts a regular-file entry of `size` bytes under `name` (UTF-8, relative, already safe).
    public func beginFile(name: String, size: Int64, permissions: UInt32, modified: timespec) throws {
        guard let entry = archive_entry_new() else {
            throw ArchiveError(path: path, message: "archive_entry_new failed")
        }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, name)
        archive_entry_set_filetype(entry, custos_archive_ifreg())
        archive_entry_set_perm(entry, mode_t(permissions & 0o777))
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, modified.tv_sec, modified.tv_nsec)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        try check(archive_write_header(archive, entry), "writing the header of \(name)")
    }

    /// Writes the next bytes of the current entry.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        let written = archive_write_data(archive, bytes.baseAddress, bytes.count)
        guard written == bytes.count else { throw ArchiveError.from(archive, path: path, doing: "writing data") }
    }

    /// Adds a whole small file.
    public func addFile(name: String, bytes: [UInt8], modified: timespec) throws {
        try beginFile(name: name, size: Int64(bytes.count), permissions: 0o444, modified: modified)
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes the end of the archive and flushes the compressor. The caller then fsyncs the file.
    public func finish() throws {
        try check(archive_write_close(archive), "finishing the archive")
        if let frames = sink.frames, !frames.finish() {
            throw ArchiveError(
                path: path, message: "writing the archive failed: \(frames.failed ?? "")",
                errno: sink.writeError)
        }
        closed = true
    }
}
