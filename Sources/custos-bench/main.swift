// Benchmarks for Custos, each printed with a ratio against its baseline measured in the same run.
// Not a test: run it on an otherwise idle machine and record the figures in Docs/Performance.md.
//
//   swift build -c release
//   .build/release/custos-bench seal   [--size-mib 2048] [--runs 5] [--dir /dev/shm/custos-bench] [--data random|mix]
//   .build/release/custos-bench ledger [--entries 100000] [--proof-entries 1000000]
//   .build/release/custos-bench daemon [--files 10000] [--settle 0.5] [--disk-dir DIR] [--runs 3]
//   .build/release/custos-bench socket [--items 1000] [--requests 2000] [--files 2000] [--runs 3] [--dir DIR] [--disk-dir DIR]
//   .build/release/custos-bench versus --baseline-custos OLD [--size-mib 2048] [--files 10000] [--runs 3]
//   .build/release/custos-bench report [--items 1000] [--runs 3] [--dir DIR] [--baseline-custos OLD]
//   .build/release/custos-bench stamp  [--files 10000]
//   .build/release/custos-bench upload [--size-mib 2048] [--runs 3] [--dir DIR] [--disk-dir DIR]
//   .build/release/custos-bench bundle [--size-mib 2048] [--runs 5] [--dir DIR] [--disk-dir DIR]
import CustosFormats
import CustosLedger
import CustosLedgerSQLite
import CustosOpenSSL
import CustosSQLite
import Foundation
import Glibc

let usage = """
    usage: custos-bench [BENCHMARK] [OPTION VALUE]...
    Times Custos against the baseline each benchmark names, in the same run, and prints the ratio.
    Run it on an otherwise idle machine with a release build (swift build -c release).

    benchmarks:
      seal    [--size-mib 2048] [--runs 5] [--dir DIR] [--data random|mix]
      ledger  [--entries 100000] [--proof-entries 1000000]
      daemon  [--files 10000] [--settle 0.5] [--disk-dir DIR] [--runs 3]
      socket  [--items 1000] [--requests 2000] [--files 2000] [--runs 3] [--dir DIR] [--disk-dir DIR]
      versus  --baseline-custos OLD [--size-mib 2048] [--files 10000] [--runs 3]
      report  [--items 1000] [--runs 3] [--dir DIR] [--baseline-custos OLD]
      stamp   [--files 10000]
      upload  [--size-mib 2048] [--runs 3] [--dir DIR] [--disk-dir DIR]
      bundle  [--size-mib 2048] [--runs 5] [--dir DIR] [--disk-dir DIR]
      all     ledger, then seal (the default)

    The default --dir is /dev/shm/custos-bench (tmpfs); its contents are deleted.
    """

/// A wrong command line: says why and how to call, on standard error, and exits 2.
func usageError(_ message: String) -> Never {
    FileHandle.standardError.write(Data("custos-bench: \(message)\n\n\(usage)\n".utf8))
    exit(2)
}

/// A step of a benchmark failed: says which, on standard error, and exits 1.
func benchmarkFailed(_ message: String) -> Never {
    FileHandle.standardError.write(Data("custos-bench: \(message)\n".utf8))
    exit(1)
}

struct Options {
    var command = "all"
    var sizeMiB = 2048
    var runs = 5
    /// `--runs` as given (the socket benchmark makes 3 pairs by default).
    var runsGiven: Int?
    var directory =
        FileManager.default.fileExists(atPath: "/dev/shm")
        ? "/dev/shm/custos-bench" : NSTemporaryDirectory() + "/custos-bench"
    var entries = 100_000
    var proofEntries = 1_000_000
    /// Stop after the append (for profiling the append alone).
    var onlyAppend = false
    /// The daemon benchmark: files in the burst, settle time, a folder on the real disk.
    var files = 10_000
    /// `--files` as given (the socket benchmark's burst is smaller by default).
    var filesGiven: Int?
    var settleSeconds = 0.5
    var diskDirectory = "/var/tmp/custos-bench-daemon"
    var diskDirectoryGiven = false
    var latencySamples = 15
    var largeRuns = 3
    /// The seal benchmark's data: `random`, or `mix` (80 % log-like text, 20 % random blocks).
    var data = "random"
    /// The socket benchmark: the vault's items, and the requests timed of each operation.
    var items = 1_000
    var requests = 2_000
    /// `versus`: an earlier build of `custos` to measure this one against.
    var baselineCustos = ""

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        if let first = rest.first, !first.hasPrefix("--") {
            command = first
            rest = rest.dropFirst()
        }
        if command == "help" || arguments.contains("--help") || arguments.contains("-h") {
            print(usage)
            exit(0)
        }
        while let flag = rest.popFirst() {
            guard flag.hasPrefix("--") else { usageError("\(flag): an option begins with --") }
            guard let value = rest.popFirst() else { usageError("\(flag) needs a value") }
            func number<Number: LosslessStringConvertible>(_: Number.Type) -> Number {
                guard let number = Number(value) else { usageError("\(flag) \(value): not a number") }
                return number
            }
            switch flag {
            case "--size-mib": sizeMiB = number(Int.self)
            case "--runs":
                runs = number(Int.self)
                runsGiven = runs
            case "--dir": directory = value
            case "--entries": entries = number(Int.self)
            case "--proof-entries": proofEntries = number(Int.self)
            case "--only-append": onlyAppend = value == "yes"
            case "--files":
                files = number(Int.self)
                filesGiven = files
            case "--settle": settleSeconds = number(Double.self)
            case "--disk-dir":
                diskDirectory = value
                diskDirectoryGiven = true
            case "--latency-samples": latencySamples = number(Int.self)
            case "--large-runs": largeRuns = number(Int.self)
            case "--data": data = value
            case "--baseline-custos": baselineCustos = value
            case "--items": items = number(Int.self)
            case "--requests": requests = number(Int.self)
            default: usageError("unknown option \(flag)")
            }
        }
    }
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Runs `sh -c command`; returns the wall time and the peak resident memory (KiB) of the largest
/// process it ran, from wait4.
func measure(_ command: String) -> (seconds: Double, maxRSSKiB: Int) {
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
    defer { for pointer in argv { free(pointer) } }
    let start = now()
    guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { benchmarkFailed("cannot run \(command)") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let seconds = now() - start
    guard status == 0 else { benchmarkFailed("failed (wait status \(status)): \(command)") }
    return (seconds, usage.ru_maxrss)
}

func shell(_ command: String) { _ = measure(command) }

let options = Options(CommandLine.arguments)
let custos = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("custos")
    .path

func sealBenchmark() {
    let dir = options.directory
    shell("rm -rf '\(dir)' && mkdir -p '\(dir)'")
    let file = "\(dir)/evidence.bin"
    print("== seal: \(options.sizeMiB) MiB of \(options.data) data in \(dir), \(options.runs) runs each, interleaved")
    if options.data == "mix" {
        writeMixedData(to: file, size: options.sizeMiB << 20)
        shell("cat '\(file)' > /dev/null")
    } else {
        shell("head -c \(options.sizeMiB << 20) /dev/urandom > '\(file)' && cat '\(file)' > /dev/null")
    }

    // The naive way, as the issue states it (bsdtar run from the folder, so the member name is relative).
    let baseline256 =
        "cd '\(dir)' && openssl dgst -sha256 evidence.bin > /dev/null && bsdtar --format=pax --zstd -cf A.tar.zst evidence.bin"
    let baselineAll =
        "cd '\(dir)' && md5sum evidence.bin > /dev/null; sha1sum evidence.bin > /dev/null; "
        + "openssl dgst -sha256 evidence.bin > /dev/null; bsdtar --format=pax --zstd -cf A.tar.zst evidence.bin"
    func seal(_ flags: String) -> String {
        "'\(custos)' init --vault '\(dir)/vault' --origin bench.example/log \(flags) > /dev/null"
            + " && exec '\(custos)' ingest --vault '\(dir)/vault' '\(file)' > /dev/null"
    }
    var times: [String: [Double]] = [:]
    var memory: [String: Int] = [:]
    let cases = [
        ("baseline sha256", baseline256), ("custos sha256", seal("--sha256-only")),
        ("baseline all", baselineAll), ("custos all", seal("")),
    ]
    for run in 1...options.runs {
        // Interleaved, so that drift of the machine touches every case alike.
        for (name, command) in cases {
            shell("rm -rf '\(dir)/vault' '\(dir)/A.tar.zst'")
            let result = measure(command)
            times[name, default: []].append(result.seconds)
            memory[name] = max(memory[name] ?? 0, result.maxRSSKiB)
        }
        print(
            "  run \(run): "
                + cases.map { "\($0.0) \(String(format: "%.2f", times[$0.0]!.last!)) s" }.joined(separator: ", "))
    }
    shell("rm -rf '\(dir)'")
    for (name, _) in cases {
        print(
            "  \(name): median \(String(format: "%.2f", median(times[name]!))) s, peak RSS \(memory[name]! / 1024) MiB")
    }
    let ratio256 = median(times["custos sha256"]!) / median(times["baseline sha256"]!)
    let ratioAll = median(times["custos all"]!) / median(times["baseline all"]!)
    print(
        String(
            format: "  ratio, SHA-256 only, zstd: %.2f of `openssl dgst -sha256 && bsdtar --zstd` (target <= 0.60)",
            ratio256))
    print(
        String(
            format:
                "  ratio, SHA-256 + MD5 + SHA-1, zstd: %.2f of `md5sum; sha1sum; openssl dgst; bsdtar --zstd` (target <= 0.60)",
            ratioAll))
    print(
        "  peak memory of custos ingest: \(max(memory["custos sha256"]!, memory["custos all"]!) / 1024) MiB (target < 64 MiB)"
    )
}

func ledgerBenchmark() throws {
    let dir = options.directory + "-ledger"
    shell("rm -rf '\(dir)' && mkdir -p '\(dir)'")
    defer { shell("rm -rf '\(dir)'") }
    let signer = try Ed25519NoteSigner(name: "bench.example/log", key: try Ed25519PrivateKey())
    let count = options.entries
    let batch = 1_000
    print("== ledger: \(count) entries in batches of \(batch), synchronous=FULL, WAL, in \(dir)")

    func events(_ range: Range<Int>) -> [NewCustodyEvent] {
        range.map { n in
            let digest = OpenSSLSHA256().sha256("content \(n)")
            let item = "00000000-0000-7000-8000-" + String(1_000_000_000_000 + n).dropFirst()
            return NewCustodyEvent(
                type: .sealed, item: item, time: "2026-11-25T00:00:00.000Z", actor: "bench",
                details: CustodyEntry.sealedDetails(
                    digests: EvidenceDigests(
                        sha256: digest, md5: Array(repeating: 1, count: 16), sha1: Array(repeating: 2, count: 20)),
                    size: UInt64(n), archive: digest, manifest: digest),
                record: ItemRecord(
                    item: item, sequence: 0, caseID: "case", exhibit: "E", name: Array("file-\(n).bin".utf8),
                    sha256: digest, size: UInt64(n), archive: digest, manifest: digest, sealedAt: "t"))
        }
    }

    // The events are made before any clock starts: what is timed is SQLite and the ledger alone.
    let batches = stride(from: 0, to: count, by: batch).map { events($0..<min($0 + batch, count)) }
    let row = Array(repeating: UInt8(ascii: "x"), count: 450)

    // Baseline: plain SQLite inserts of rows of the entries' size, through the same wrapper.
    func plainRun(_ run: Int) throws -> Double {
        let plain = try SQLiteConnection(path: "\(dir)/plain-\(run).sqlite", mode: .create)
        try plain.execute(
            """
            PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
            CREATE TABLE t (id INTEGER PRIMARY KEY, hash BLOB, prev BLOB, time TEXT, body BLOB);
            """)
        let start = now()
        for first in stride(from: 0, to: count, by: batch) {
            try plain.writeTransaction {
                for id in first..<min(first + batch, count) {
                    try plain.run(
                        "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                        [
                            .integer(Int64(id)), .blob(Array(repeating: 1, count: 32)),
                            .blob(Array(repeating: 2, count: 32)), .text("2026-11-25T00:00:00.000Z"), .blob(row),
                        ])
                }
            }
        }
        return Double(count) / (now() - start)
    }

    func ledgerRun(_ run: Int) throws -> (rate: Double, ledger: Ledger) {
        let path = "\(dir)/ledger-\(run).sqlite"
        try Ledger.create(path: path, origin: signer.name, signer: signer, now: "t")
        let ledger = try Ledger(path: path, origin: signer.name)
        let start = now()
        for events in batches { _ = try ledger.append(events) }
        try ledger.checkpoint(signer: signer, now: "t")
        return (Double(count) / (now() - start), ledger)
    }

    var plainRates = [Double]()
    var appendRates = [Double]()
    var last: Ledger?
    for run in 1...3 {
        // Interleaved, so that drift of the machine touches both alike.
        plainRates.append(try plainRun(run))
        let result = try ledgerRun(run)
        appendRates.append(result.rate)
        last = result.ledger
        print(
            String(
                format: "  run %d: plain %.0f rows/s, ledger %.0f entries/s", run, plainRates.last!, appendRates.last!))
    }
    let plainRate = median(plainRates)
    let appendRate = median(appendRates)
    let ledger = last!
    print(String(format: "  plain SQLite inserts (baseline): median %.0f rows/s", plainRate))
    print(
        String(
            format:
                "  ledger append (entry, chain, tree, item index) and checkpoint: median %.0f entries/s, %.2f of the baseline (target >= 100,000/s)",
            appendRate, appendRate / plainRate))

    if options.onlyAppend { return }
    var start = now()
    let audit = try ledger.audit(verifiers: [Ed25519NoteVerifier(signer.verifierKey)])
    let auditSeconds = now() - start
    precondition(audit.faults.isEmpty, "\(audit.faults)")
    print(
        String(format: "  verify chain, tree and checkpoints of %d entries: %.2f s (target < 2 s)", count, auditSeconds)
    )

    // Proofs at a larger size.
    let size = max(options.proofEntries, count + 1)
    start = now()
    for first in stride(from: count, to: size, by: batch * 10) {
        _ = try ledger.append(events(first..<min(first + batch * 10, size)))
    }
    print(String(format: "  grew the ledger to %d entries in %.1f s", size, now() - start))
    var generator = SystemRandomNumberGenerator()
    let samples = 2_000
    start = now()
    for _ in 0..<samples {
        _ = try ledger.inclusionProof(index: UInt64.random(in: 0..<UInt64(size), using: &generator), size: UInt64(size))
    }
    let inclusion = (now() - start) / Double(samples) * 1000
    start = now()
    for _ in 0..<samples {
        _ = try ledger.consistencyProof(from: UInt64.random(in: 1..<UInt64(size), using: &generator), to: UInt64(size))
    }
    let consistency = (now() - start) / Double(samples) * 1000
    print(
        String(format: "  inclusion proof at %d entries: %.3f ms mean of %d (target < 5 ms)", size, inclusion, samples))
    print(String(format: "  consistency proof at %d entries: %.3f ms mean of %d", size, consistency, samples))
}

switch options.command {
case "seal": sealBenchmark()
case "ledger": try ledgerBenchmark()
case "daemon": try daemonBenchmark()
case "stamp": try stampBenchmark()
case "versus": try versusBenchmark()
case "socket": try socketBenchmark()
case "upload": try uploadBenchmark()
case "bundle": try bundleBenchmark()
case "report": try reportBenchmark()
case "all":
    try ledgerBenchmark()
    sealBenchmark()
default:
    usageError("unknown benchmark \(options.command)")
}
