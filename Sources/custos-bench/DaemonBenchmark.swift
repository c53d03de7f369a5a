import CustosSQLite
import CustosTestSupport
import Foundation
import Glibc

/// The daemon's benchmark: the real `custos daemon` against files dropped into its inbox.
///
/// - burst: 10,000 files of 4 KiB dropped at once (one rename of their folder) until the ledger
///   has recorded all of them (each archive fsynced, the ledger committed), against the baseline
///   of what fsync costs on this disk: 10,000 files of 4 KiB written and fsynced one after another.
/// - latency: one small file dropped into an idle daemon, until its entry is committed, less the
///   settle time.
/// - large: a 2 GiB file dropped into the inbox against `custos ingest` of the same file.
func daemonBenchmark() throws {
    let disk = options.diskDirectory
    shell("rm -rf '\(disk)' && mkdir -p '\(disk)'")
    defer { shell("rm -rf '\(disk)'") }
    print("daemon benchmark on \(disk) (\(fileSystemType(disk)))")

    // Baseline: the cost of durability here.
    var baselines = [Double]()
    for run in 0..<options.runs {
        let folder = "\(disk)/fsync-\(run)"
        shell("mkdir -p '\(folder)'")
        let block = [UInt8](repeating: 0x42, count: 4096)
        let start = now()
        for index in 0..<options.files {
            let fd = open("\(folder)/f\(index)", O_WRONLY | O_CREAT | O_EXCL, 0o644)
            _ = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            fsync(fd)
            close(fd)
        }
        let dirfd = open(folder, O_RDONLY | O_DIRECTORY)
        fsync(dirfd)
        close(dirfd)
        baselines.append(Double(options.files) / (now() - start))
        shell("rm -rf '\(folder)'")
    }
    let baseline = median(baselines)
    print(
        String(
            format: "  baseline: write 4 KiB + fsync, %d files one after another: %.0f files/s (%.2f ms a file)",
            options.files, baseline, 1000 / baseline))

    // Burst.
    // Interleaved: a vault without a TSA of its own, and one whose TSA stamps every seal.
    var rates = [Double]()
    var sealingRates = [Double]()
    var unstampedRates = [Double]()
    var externalRates = [Double]()
    var externalTokenRates = [Double]()
    var memory = [String]()
    // An external authority: `openssl ts -reply` behind an HTTP server, as in the tests, at the
    // lowest CPU priority (a real one runs on another machine).
    let authority = try OpenSSLAuthority(mode: "ok", nice: true)
    for run in 0..<options.runs * 3 {
        let stamped = run % 3 != 0
        let external = run % 3 == 2
        let vault = "\(disk)/burst-\(run)"
        shell(
            "'\(custos)' init --vault '\(vault)' --origin bench.example/burst \(stamped ? "" : "--no-tsa") > /dev/null")
        if external {
            _ = FileManager.default.createFile(
                atPath: "\(vault)/custos-daemon.yaml",
                contents: Data(
                    """
                    timestamp-authorities:
                      bench:
                        url: \(authority.url)
                        anchors: \(authority.directory.file("ca.pem"))
                    timestamp-retry-seconds: 1

                    """.utf8))
        }
        let staging = "\(vault)/staging/B"
        shell("mkdir -p '\(staging)'")
        writeBurst(into: staging, count: options.files)
        shell("sync")
        let daemon = try DaemonProcess(vault: vault, settle: options.settleSeconds)
        let ledger = try LedgerCounter(vault: vault)
        let start = now()
        guard rename(staging, "\(vault)/inbox/B") == 0 else { fatalError("rename") }
        var firstSeal: Double?
        var samples = [(Int, Int)]()
        var lastSample = 0.0
        while true {
            let count = try ledger.count()
            if firstSeal == nil, count > 0 { firstSeal = now() }
            if now() - lastSample > 0.1 {
                samples.append((count, daemon.residentKiB))
                lastSample = now()
            }
            if count >= options.files { break }
            usleep(2000)
        }
        let end = now()
        if !stamped {
            unstampedRates.append(Double(options.files) / (end - (firstSeal ?? start)))
            daemon.stop()
            shell("rm -rf '\(vault)'")
            continue
        }
        if external {
            // Sealing did not wait; the authority's tokens follow at its own pace (10 s of them).
            externalRates.append(Double(options.files) / (end - (firstSeal ?? start)))
            let before = try ledger.externalTokens()
            let waitStart = now()
            usleep(10_000_000)
            externalTokenRates.append(Double(try ledger.externalTokens() - before) / (now() - waitStart))
            daemon.stop()
            shell("rm -rf '\(vault)'")
            continue
        }
        rates.append(Double(options.files) / (end - start))
        sealingRates.append(Double(options.files) / (end - (firstSeal ?? start)))
        let rss = samples.map(\.1).filter { $0 > 0 }
        // The resident memory as the burst goes on: at each tenth of the files recorded.
        var progression = [String]()
        for tenth in 1...10 {
            if let sample = samples.first(where: { $0.0 >= options.files * tenth / 10 }) {
                progression.append("\(sample.1 / 1024)")
            }
        }
        memory.append(
            "run \(run / 2 + 1): RSS \(rss.first.map { "\($0 / 1024)" } ?? "?") MiB at the drop, "
                + "\(rss.max().map { "\($0 / 1024)" } ?? "?") MiB at most, \(rss.last.map { "\($0 / 1024)" } ?? "?") MiB at the end "
                + "(\(samples.count) samples; MiB at each tenth: \(progression.joined(separator: " ")))")
        daemon.stop()
        shell("rm -rf '\(vault)'")
    }
    let rate = median(rates)
    print(
        String(
            format:
                "  burst: %d files of 4 KiB, drop to last commit: %.0f files/s (median of %d; settle %.1f s included), %.0f files/s from first seal to last; ratio to the fsync baseline %.2f (target >= 1,000 files/s)",
            options.files, rate, options.runs, options.settleSeconds, median(sealingRates),
            median(sealingRates) / baseline
        ))
    print(
        String(
            format:
                "  time stamps: the same burst without the node's TSA %.0f files/s, with it %.0f files/s (first seal to last): %.2f of the throughput kept (target >= 0.90)",
            median(unstampedRates), median(sealingRates), median(sealingRates) / median(unstampedRates)))
    print(
        String(
            format:
                "  external authority: the same burst with the node's TSA and an external authority configured %.0f files/s (first seal to last): %.2f of the node-only throughput (sealing does not wait); its tokens then arrived at %.0f a second (openssl ts -reply behind Python's HTTP server)",
            median(externalRates), median(externalRates) / median(sealingRates), median(externalTokenRates)))
    for line in memory { print("    \(line)") }

    // Latency of one small file.
    do {
        let vault = "\(disk)/latency"
        shell(
            "'\(custos)' init --vault '\(vault)' --origin bench.example/latency > /dev/null && mkdir -p '\(vault)/staging'"
        )
        let daemon = try DaemonProcess(vault: vault, settle: options.settleSeconds)
        let ledger = try LedgerCounter(vault: vault)
        var latencies = [Double]()
        for index in 0..<options.latencySamples {
            let staged = "\(vault)/staging/small-\(index).txt"
            let fd = open(staged, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            _ = "small file \(index)\n".withCString { write(fd, $0, strlen($0)) }
            close(fd)
            let before = try ledger.count()
            let start = now()
            guard rename(staged, "\(vault)/inbox/small-\(index).txt") == 0 else { fatalError("rename") }
            while try ledger.count() == before { usleep(500) }
            latencies.append(now() - start - options.settleSeconds)
            usleep(200_000)
        }
        daemon.stop()
        shell("rm -rf '\(vault)'")
        print(
            String(
                format:
                    "  one small file: sealed %.0f ms after the settle time of %.1f s (median of %d; max %.0f ms; target <= 100 ms)",
                median(latencies) * 1000, options.settleSeconds, latencies.count, (latencies.max() ?? 0) * 1000))
    }

    // A large file, against `custos ingest`, in memory (as the seal benchmark).
    do {
        let memoryDirectory = options.directory
        shell("rm -rf '\(memoryDirectory)' && mkdir -p '\(memoryDirectory)'")
        defer { shell("rm -rf '\(memoryDirectory)'") }
        var ingestTimes = [Double]()
        var daemonTimes = [Double]()
        for run in 0..<options.largeRuns {
            let source = "\(memoryDirectory)/large-\(run).bin"
            shell("head -c \(options.sizeMiB)M /dev/urandom > '\(source)'")
            let ingestVault = "\(memoryDirectory)/ingest-\(run)"
            shell("'\(custos)' init --vault '\(ingestVault)' --origin bench.example/large > /dev/null")
            ingestTimes.append(measure("'\(custos)' ingest --vault '\(ingestVault)' '\(source)' > /dev/null").seconds)
            shell("rm -rf '\(ingestVault)'")

            let vault = "\(memoryDirectory)/daemon-\(run)"
            shell("'\(custos)' init --vault '\(vault)' --origin bench.example/large > /dev/null")
            let daemon = try DaemonProcess(vault: vault, settle: options.settleSeconds)
            let ledger = try LedgerCounter(vault: vault)
            let start = now()
            guard rename(source, "\(vault)/inbox/large.bin") == 0 else { fatalError("rename") }
            while try ledger.count() == 0 { usleep(2000) }
            daemonTimes.append(now() - start - options.settleSeconds)
            daemon.stop()
            shell("rm -rf '\(vault)'")
        }
        let ingest = median(ingestTimes)
        let daemon = median(daemonTimes)
        print(
            String(
                format:
                    "  %d MiB file: daemon %.2f s after settling, `custos ingest` %.2f s; ratio %.2f (median of %d, target about 1)",
                options.sizeMiB, daemon, ingest, daemon / ingest, options.largeRuns))
    }
}

func fileSystemType(_ path: String) -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/stat")
    process.arguments = ["-f", "-c", "%T", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    guard (try? process.run()) != nil else { return "?" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// `custos daemon` in the background, its log in the vault's folder.
final class DaemonProcess {
    let process = Process()

    init(vault: String, settle: Double, binary: String = custos) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["daemon", "--vault", vault]
        var environment = ProcessInfo.processInfo.environment
        environment["CUSTOS_SETTLE_SECONDS"] = String(settle)
        environment["CUSTOS_LOG_LEVEL"] = "notice"
        process.environment = environment
        _ = FileManager.default.createFile(atPath: vault + ".daemon.log", contents: nil)
        process.standardError = FileHandle(forWritingAtPath: vault + ".daemon.log")
        try process.run()
        // Started once its lock is taken and its first scan done: wait for the lock file.
        while !FileManager.default.fileExists(atPath: vault + "/locks/sealing.lock") { usleep(10_000) }
        usleep(300_000)
    }

    var residentKiB: Int {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// Counts the ledger's entries through a read-only connection (WAL: beside the daemon's writes).
final class LedgerCounter {
    let connection: SQLiteConnection

    init(vault: String) throws {
        connection = try SQLiteConnection(path: vault + "/ledger.sqlite", mode: .readOnly)
    }

    func count() throws -> Int {
        // Sealed items (a time stamp is an entry too, but not an item).
        Int(try connection.firstRow("SELECT count(*) FROM entries WHERE item IS NOT NULL") { $0.int64(0) } ?? 0)
    }

    /// Tokens recorded from external authorities.
    func externalTokens() throws -> Int {
        Int(try connection.firstRow("SELECT count(*) FROM stamps WHERE source <> 'node'") { $0.int64(0) } ?? 0)
    }
}
