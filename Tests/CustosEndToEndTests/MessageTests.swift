import CustosOpenSSL
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// What the CLI says when something goes wrong: it names the input and the reason, counts what
/// was and was not sealed, and says what was recorded. Faults are injected into the real binary
/// by a small preloaded library (compiled here with cc).
@Suite("messages after a fault", .timeLimit(.minutes(2)), .enabled(if: haveProgram("cc") && haveProgram("sqlite3")))
struct MessageTests {
    static let noBacktrace = ["SWIFT_BACKTRACE": "enable=no"]

    /// A storage fault on the first input stops sealing: neither input was sealed, and the fault
    /// is named as a storage fault, not as a refusal of the input.
    @Test func aStorageFaultCountsEveryInputNotSealedAndIsNamedSo() throws {
        let node = try Node()
        // Every write to a file under the vault's tmp/ (the archive being written) fails: disk full.
        let library = try FaultInjection.failingArchiveWrites(node, errno: "ENOSPC")
        let files = try (0..<2).map { try node.directory.write("in-\($0).bin", randomBytes(200_000)) }
        var environment = Self.noBacktrace
        environment["LD_PRELOAD"] = library
        let result = try run(
            custosBinary, ["ingest", "--vault", node.vault] + files, environment: environment)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(
            result.stderr.contains("custos: storage fault: \(files[0]): the vault's disk is full"), "\(result.stderr)")
        #expect(!result.stderr.contains("refused"), "\(result.stderr)")
        #expect(result.stderr.contains("1 input was not tried; nothing was recorded"), "\(result.stderr)")
        #expect(result.stderr.contains("custos: none of the 2 inputs was sealed"), "\(result.stderr)")
        #expect(try node.items().isEmpty)
    }

    /// An I/O error of the ledger while the second input is recorded: the message names that
    /// input, says nothing of it was recorded, and names what was (the first input's entries).
    @Test func aLedgerWriteErrorNamesTheInputAndWhatWasRecorded() throws {
        let node = try Node()
        let files = try (0..<2).map { try node.directory.write("doc-\($0).bin", randomBytes(3000 + $0)) }
        // The second input's archive, once placed, turns every write of the ledger's WAL into EIO.
        let second = try sha256sum(files[1])
        let trigger = "\(node.vault)/objects/\(second.prefix(2))/\(second).tar.zst"
        let library = try FaultInjection.failingLedgerWrites(node, onceExists: trigger)
        var environment = Self.noBacktrace
        environment["LD_PRELOAD"] = library
        let result = try run(custosBinary, ["ingest", "--vault", node.vault] + files, environment: environment)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "custos: storage fault: \(files[1]): recording its seal in the ledger failed, nothing of it was recorded"
            ),
            "\(result.stderr)")
        #expect(result.stderr.contains("disk I/O error"), "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "sealing stopped: the ledger could not be written; recorded: \(files[0]) (entries 0-1)"),
            "\(result.stderr)")
        #expect(result.stderr.contains("custos: 1 of 2 inputs were not sealed"), "\(result.stderr)")
        // What it said was recorded is what the ledger holds.
        let items = try node.items()
        #expect(items.count == 1 && itemName(items[0]) == "doc-0.bin", "\(items)")
    }

    /// A file removed while it is read: said so (gone, nothing recorded), not "changed … seal it
    /// again". The preloaded `read` unlinks the file at its first read.
    @Test func aFileRemovedWhileReadIsSaidToBeGone() throws {
        let node = try Node()
        let victim = try node.directory.write("victim.bin", randomBytes(300_000))
        let library = try FaultInjection.preload(
            node, "unlinkonread",
            """
            ssize_t read(int fd, void *buffer, size_t count) {
                char link[64], target[4096];
                snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                ssize_t n = readlink(link, target, sizeof target - 1);
                if (n > 0) { target[n] = 0; if (ends_with(fd, "/victim.bin")) unlink(target); }
                return ((ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read"))(fd, buffer, count);
            }
            """)
        var environment = Self.noBacktrace
        environment["LD_PRELOAD"] = library
        let result = try run(custosBinary, ["ingest", "--vault", node.vault, victim], environment: environment)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: victim), "the read did not remove it")
        #expect(
            result.stderr.contains("\(victim): was removed while it was being read (it is gone); nothing was recorded"),
            "\(result.stderr)")
        #expect(!result.stderr.contains("changed while") && !result.stderr.contains("seal it again"))
        #expect(try node.items().isEmpty)
    }
}

extension MessageTests {
    /// An I/O error under libarchive (the archive's writes fail with EIO) is a storage failure:
    /// sealing stops at the first input, as for any other failed write of the vault.
    @Test func anIOErrorWritingTheArchiveStopsSealing() throws {
        let node = try Node()
        let library = try FaultInjection.failingArchiveWrites(node, errno: "EIO")
        let files = try (0..<2).map { try node.directory.write("in-\($0).bin", randomBytes(200_000)) }
        var environment = Self.noBacktrace
        environment["LD_PRELOAD"] = library
        let result = try run(custosBinary, ["ingest", "--vault", node.vault] + files, environment: environment)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("custos: storage fault: \(files[0])"), "\(result.stderr)")
        #expect(
            result.stderr.contains("sealing stopped") && result.stderr.contains("1 input was not tried"),
            "\(result.stderr)")
        #expect(try node.items().isEmpty)
        #expect(node.files(under: "tmp").isEmpty)
    }
}

extension MessageTests {
    /// A bundle whose writing fails after its report was recorded (a full disk): the error says
    /// the `reported` entry stands, nothing is exported, and no file or part of one is left.
    @Test func aBundleThatCannotBeWrittenSaysItsReportWasRecorded() throws {
        let node = try Node()
        let evidence = try node.directory.write("seized.bin", randomBytes(300_000))
        let sealed = try run(custosBinary, ["ingest", "--vault", node.vault, "--case", "M-1", evidence])
        #expect(sealed.status == 0, "\(sealed.stderr)")
        let library = try FaultInjection.preload(
            node, "fail-bundle",
            """
            ssize_t write(int fd, const void *buffer, size_t count) {
                if (strstr_fd(fd, "doomed.tar")) { errno = ENOSPC; return -1; }
                return ((ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write"))(fd, buffer, count);
            }
            """)
        var environment = Self.noBacktrace
        environment["LD_PRELOAD"] = library
        let output = node.directory.file("doomed.tar")
        let result = try run(
            custosBinary, ["export", "--vault", node.vault, "--case", "M-1", "--reason", "court", "-o", output],
            environment: environment)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("\(output): could not be written"), "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "(the bundle's report was made and recorded before the bundle failed (`reported`, entry "),
            "\(result.stderr)")
        let history = try run(custosBinary, ["history", "--vault", node.vault, "--case", "M-1", "--json"])
        let events = try JSONSerialization.jsonObject(with: Data(history.stdout)) as? [[String: Any]] ?? []
        #expect(events.contains { $0["event"] as? String == "reported" })
        #expect(!events.contains { $0["event"] as? String == "exported" })
        let left = try FileManager.default.contentsOfDirectory(atPath: node.directory.path)
        #expect(!left.contains { $0.contains("doomed") }, "\(left)")
    }
}
