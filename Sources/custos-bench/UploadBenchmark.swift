import Foundation
import Glibc

/// `custos ingest` through the daemon's socket against `custos ingest` on the vault directly
/// (the baseline): the same file of `--size-mib` random bytes sealed into a fresh copy of the
/// same empty vault, `--runs` pairs, the order alternating pair by pair. Through the socket the
/// bytes are read by the CLI, sent over the socket, kept in the vault's `tmp/` and read again by
/// the seal: the price of a vault its caller cannot read. Prints each pair's ratio (socket /
/// direct) and their median, and the daemon's peak memory.
func uploadBenchmark() throws {
    let dir = options.diskDirectoryGiven ? options.diskDirectory : options.directory
    shell("rm -rf '\(dir)' && mkdir -p '\(dir)'")
    defer { shell("rm -rf '\(dir)'") }
    let pairs = options.runsGiven ?? 3
    let file = "\(dir)/evidence.bin"
    print(
        "== upload: \(options.sizeMiB) MiB of random data in \(dir) (\(fileSystemType(dir))), \(pairs) pairs, "
            + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
    shell("head -c \(options.sizeMiB << 20) /dev/urandom > '\(file)' && cat '\(file)' > /dev/null")
    let template = "\(dir)/template"
    shell("'\(custos)' init --vault '\(template)' --origin bench.example/upload > /dev/null")

    var ratios = [Double]()
    var peakKiB = 0
    for pair in 0..<pairs {
        var direct = 0.0
        var socket = 0.0
        for throughSocket in pair % 2 == 0 ? [false, true] : [true, false] {
            let vault = "\(dir)/vault-\(pair)-\(throughSocket)"
            shell("cp -a '\(template)' '\(vault)'")
            if throughSocket {
                let daemon = try DaemonProcess(vault: vault, settle: options.settleSeconds)
                socket = measure("'\(custos)' ingest --vault '\(vault)' --case B-1 '\(file)' > /dev/null").seconds
                peakKiB = max(peakKiB, daemon.residentKiB)
                daemon.stop()
            } else {
                direct = measure("'\(custos)' ingest --vault '\(vault)' --case B-1 '\(file)' > /dev/null").seconds
            }
            shell("rm -rf '\(vault)'")
        }
        ratios.append(socket / direct)
        print(
            String(
                format: "  pair %d: direct %.2f s (%.0f MiB/s), through the socket %.2f s (%.0f MiB/s): ratio %.2f",
                pair + 1, direct, Double(options.sizeMiB) / direct, socket, Double(options.sizeMiB) / socket,
                socket / direct))
    }
    print(
        String(
            format: "  median ratio (socket / direct): %.2f; the daemon's resident memory after a seal: %d MiB",
            median(ratios), peakKiB / 1024))
}
