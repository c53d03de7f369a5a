import Foundation
import Glibc

/// `custos verify-bundle` against `openssl dgst -sha256` over the same bundle (the baseline the
/// issue names): one original of `--size-mib` random bytes sealed (its archive, zstd, is about as
/// large), exported as a court bundle of about twice that size, then `--runs` pairs, the order
/// alternating pair by pair, both reading the bundle from the page cache. verify-bundle does more
/// than one SHA-256 of the bytes: SHA256SUMS (every byte), the original's MD5 and SHA-1, and the
/// archive decompressed and its original re-hashed. Prints each pair's ratio, their median, and
/// verify-bundle's peak memory.
func bundleBenchmark() throws {
    let dir = options.diskDirectoryGiven ? options.diskDirectory : options.directory
    shell("rm -rf '\(dir)' && mkdir -p '\(dir)'")
    defer { shell("rm -rf '\(dir)'") }
    let pairs = options.runsGiven ?? 5
    print(
        "== bundle: one original of \(options.sizeMiB) MiB of random data in \(dir) (\(fileSystemType(dir))), "
            + "\(pairs) pairs, \(ProcessInfo.processInfo.activeProcessorCount) cores")
    // A vault of the default settings (MD5 and SHA-1 recorded beside SHA-256: verify-bundle
    // re-computes all three of every original), then one made with --sha256-only.
    for sha256Only in [false, true] {
        try bundleBenchmark(in: dir, pairs: pairs, sha256Only: sha256Only)
    }
}

private func bundleBenchmark(in dir: String, pairs: Int, sha256Only: Bool) throws {
    let file = "\(dir)/evidence.bin"
    let vault = "\(dir)/vault"
    let bundle = "\(dir)/bundle.tar"
    shell("rm -rf '\(vault)' '\(bundle)'")
    print(
        sha256Only ? "-- a vault made with --sha256-only" : "-- a vault of the default settings (MD5, SHA-1, SHA-256)")
    shell("head -c \(options.sizeMiB << 20) /dev/urandom > '\(file)'")
    shell(
        "'\(custos)' init --vault '\(vault)' --origin bench.example/bundle \(sha256Only ? "--sha256-only" : "") > /dev/null"
    )
    shell("'\(custos)' ingest --vault '\(vault)' --case B-1 '\(file)' > /dev/null")
    let export = measure(
        "'\(custos)' export --vault '\(vault)' --case B-1 --reason benchmark -o '\(bundle)' > /dev/null")
    var status = stat()
    stat(bundle, &status)
    print(
        String(
            format: "  export: %.2f s, peak %d MiB; the bundle is %.0f MiB", export.seconds, export.maxRSSKiB / 1024,
            Double(status.st_size) / 1_048_576))
    shell("rm -f '\(file)'; cat '\(bundle)' > /dev/null")

    var ratios = [Double]()
    var peakKiB = 0
    for pair in 0..<pairs {
        var verify = 0.0
        var digest = 0.0
        for verifying in pair % 2 == 0 ? [true, false] : [false, true] {
            if verifying {
                let run = measure("'\(custos)' verify-bundle '\(bundle)' > /dev/null")
                verify = run.seconds
                peakKiB = max(peakKiB, run.maxRSSKiB)
            } else {
                digest = measure("openssl dgst -sha256 '\(bundle)' > /dev/null").seconds
            }
        }
        ratios.append(verify / digest)
        print(
            String(
                format: "  pair %d: verify-bundle %.2f s, openssl dgst -sha256 %.2f s: ratio %.2f", pair + 1, verify,
                digest, verify / digest))
    }
    print(
        String(
            format:
                "  median ratio (verify-bundle / openssl dgst -sha256): %.2f (target 1.5); verify-bundle's peak: %d MiB",
            median(ratios), peakKiB / 1024))
}
