import Foundation
import Glibc

/// This build of `custos` against an earlier one (`--baseline-custos`), interleaved run by run:
/// - seal: `custos ingest` of one large random file in memory (`--size-mib`, in `--dir`), each
///   binary in a vault it made itself;
/// - burst: the daemon with the node's TSA, `--files` files of 4 KiB dropped at once on the disk
///   (`--disk-dir`), first seal to last.
/// A ratio above 1 means this build is slower. The two alternate which runs first.
func versusBenchmark() throws {
    let baseline = options.baselineCustos
    guard !baseline.isEmpty, FileManager.default.isExecutableFile(atPath: baseline) else {
        usageError("versus needs --baseline-custos PATH, an earlier custos binary")
    }
    let binaries = [("this build", custos), ("baseline", baseline)]
    print("== versus: \(custos) against \(baseline), \(options.runs) runs each, interleaved")

    // Seal: one large file through `custos ingest`.
    let dir = options.directory
    shell("rm -rf '\(dir)' && mkdir -p '\(dir)'")
    let file = "\(dir)/evidence.bin"
    shell("head -c \(options.sizeMiB << 20) /dev/urandom > '\(file)' && cat '\(file)' > /dev/null")
    var sealTimes = [String: [Double]]()
    for run in 1...options.runs {
        for (name, binary) in inTurn(binaries, run: run) {
            shell(
                "rm -rf '\(dir)/vault' && '\(binary)' init --vault '\(dir)/vault' --origin bench.example/v > /dev/null")
            let seconds = measure("exec '\(binary)' ingest --vault '\(dir)/vault' '\(file)' > /dev/null").seconds
            sealTimes[name, default: []].append(seconds)
        }
        print(
            "  seal run \(run): "
                + binaries.map { "\($0.0) \(String(format: "%.2f", sealTimes[$0.0]!.last!)) s" }.joined(separator: ", ")
        )
    }
    shell("rm -rf '\(dir)'")
    let sealRatio = median(sealTimes["this build"]!) / median(sealTimes["baseline"]!)
    print(
        String(
            format:
                "  seal: %d MiB through custos ingest: %.2f s against %.2f s: ratio %.2f (median of %d; target <= 1)",
            options.sizeMiB, median(sealTimes["this build"]!), median(sealTimes["baseline"]!), sealRatio, options.runs))
    print(
        String(
            format: "  seal: ratio pair by pair, median %.2f",
            median(zip(sealTimes["this build"]!, sealTimes["baseline"]!).map { $0 / $1 })))

    // Burst: the daemon on the disk.
    let disk = options.diskDirectory
    shell("rm -rf '\(disk)' && mkdir -p '\(disk)'")
    defer { shell("rm -rf '\(disk)'") }
    var rates = [String: [Double]]()
    for run in 1...options.runs {
        for (index, (name, binary)) in inTurn(binaries, run: run).enumerated() {
            let vault = "\(disk)/burst-\(run)-\(index)"
            shell("'\(binary)' init --vault '\(vault)' --origin bench.example/burst > /dev/null")
            let staging = "\(vault)/staging/B"
            shell("mkdir -p '\(staging)'")
            for file in 0..<options.files {
                var bytes = [UInt8](repeating: 0, count: 4096)
                withUnsafeBytes(of: file) { bytes.replaceSubrange(0..<8, with: $0) }
                let fd = open("\(staging)/f\(file)", O_WRONLY | O_CREAT | O_EXCL, 0o644)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
            shell("sync")
            let daemon = try DaemonProcess(vault: vault, settle: options.settleSeconds, binary: binary)
            let ledger = try LedgerCounter(vault: vault)
            guard rename(staging, "\(vault)/inbox/B") == 0 else { fatalError("rename") }
            var firstSeal: Double?
            while true {
                let count = try ledger.count()
                if firstSeal == nil, count > 0 { firstSeal = now() }
                if count >= options.files { break }
                usleep(2000)
            }
            rates[name, default: []].append(Double(options.files) / (now() - firstSeal!))
            daemon.stop()
            shell("rm -rf '\(vault)' '\(vault).daemon.log'")
        }
        print(
            "  burst run \(run): "
                + binaries.map { "\($0.0) \(String(format: "%.0f", rates[$0.0]!.last!)) files/s" }.joined(
                    separator: ", "))
    }
    let burstRatio = median(rates["baseline"]!) / median(rates["this build"]!)
    print(
        String(
            format: "  burst: time ratio pair by pair, median %.2f",
            median(zip(rates["baseline"]!, rates["this build"]!).map { $0 / $1 })))
    print(
        String(
            format:
                "  burst: %d files of 4 KiB, daemon with the node's TSA, first seal to last: %.0f files/s against %.0f: time ratio %.2f (median of %d; target <= 1)",
            options.files, median(rates["this build"]!), median(rates["baseline"]!), burstRatio, options.runs))
}

/// The two builds in the order they run in `run`: this build first in odd runs, the baseline
/// first in even ones, so that neither always runs on a machine the other has just warmed (or
/// left busy writing back).
private func inTurn(_ binaries: [(String, String)], run: Int) -> [(String, String)] {
    run % 2 == 1 ? binaries : binaries.reversed()
}
