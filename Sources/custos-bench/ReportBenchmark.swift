import Foundation
import Glibc

/// The chain-of-custody report, against issue 12's target: a case of `--items` items (1,000 by
/// default) reported as PDF and JSON in under 10 s.
///
/// A vault of `--items` small files sealed into one case by `custos ingest` of a folder (in
/// `--dir`); each run copies it afresh (a report records a `reported` entry per item, which the
/// next report would show), then times, interleaved, the order turning run by run:
/// - baseline: `custos verify` of the vault (the ledger audited, every archive re-read and
///   re-hashed), the re-check a report makes too, so the least a report can take;
/// - `custos report --case … --format json`;
/// - `custos report --case … --format both` (PDF and JSON, the default);
/// - with `--baseline-custos OLD`, the same two reports by an earlier build, in the same runs.
/// Each is printed as its median, its ratio to the baseline, and its peak resident memory.
func reportBenchmark() throws {
    let dir = options.diskDirectoryGiven ? options.diskDirectory : options.directory + "-report"
    shell("rm -rf '\(dir)' && mkdir -p '\(dir)'")
    defer { shell("rm -rf '\(dir)'") }
    let runs = options.runsGiven ?? 3
    print(
        "== report: a case of \(options.items) items in \(dir), \(runs) runs each, interleaved, "
            + "\(ProcessInfo.processInfo.activeProcessorCount) cores")

    let template = "\(dir)/template"
    shell("'\(custos)' init --vault '\(template)' --origin bench.example/report > /dev/null")
    let sources = "\(dir)/items"
    shell("mkdir -p '\(sources)'")
    for index in 0..<options.items {
        let fd = open("\(sources)/item-\(index).txt", O_WRONLY | O_CREAT | O_EXCL, 0o644)
        _ = "item \(index) of the report benchmark\n".withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
    let start = now()
    shell(
        "'\(custos)' ingest --vault '\(template)' --case BENCH-12 --exhibit E --examiner Bench "
            + "--description 'report benchmark' '\(sources)' > /dev/null")
    print(String(format: "  %d items sealed by `custos ingest` in %.1f s", options.items, now() - start))
    shell("rm -rf '\(sources)'")

    let json = "report --vault VAULT --case BENCH-12 --reason bench --format json -o OUT/report.json"
    let both = "report --vault VAULT --case BENCH-12 --reason bench --format both -o OUT/report"
    var cases = [
        ("verify (baseline)", custos, "verify --vault VAULT"), ("report json", custos, json),
        ("report both", custos, both),
    ]
    // With --baseline-custos, an earlier build's report too, in the same runs.
    if !options.baselineCustos.isEmpty {
        guard FileManager.default.isExecutableFile(atPath: options.baselineCustos) else {
            usageError("--baseline-custos \(options.baselineCustos): not an executable")
        }
        cases += [
            ("earlier build: report json", options.baselineCustos, json),
            ("earlier build: report both", options.baselineCustos, both),
        ]
    }
    var times = [String: [Double]]()
    var memory = [String: Int]()
    var sizes = ""
    for run in 1...runs {
        let order = run % 2 == 1 ? cases : cases.reversed()
        for (name, binary, arguments) in order {
            let vault = "\(dir)/vault"
            let out = "\(dir)/out"
            shell("rm -rf '\(vault)' '\(out)' && cp -a '\(template)' '\(vault)' && mkdir '\(out)'")
            let command =
                "exec '\(binary)' "
                + arguments.replacingOccurrences(of: "VAULT", with: "'\(vault)'")
                .replacingOccurrences(of: "OUT", with: "'\(out)'") + " > /dev/null"
            let result = measure(command)
            times[name, default: []].append(result.seconds)
            memory[name] = max(memory[name] ?? 0, result.maxRSSKiB)
            if name == "report both", run == 1 {
                sizes = outputSizes(out)
            }
        }
        print(
            "  run \(run): "
                + cases.map { "\($0.0) \(String(format: "%.2f", times[$0.0]!.last!)) s" }.joined(separator: ", "))
    }
    let baseline = median(times[cases[0].0]!)
    for (name, _, _) in cases {
        print(
            String(
                format: "  %@: median %.2f s, %.2f of the baseline, peak RSS %d MiB", name, median(times[name]!),
                median(times[name]!) / baseline, memory[name]! / 1024))
    }
    if let earlierJSON = times["earlier build: report json"], let earlierBoth = times["earlier build: report both"] {
        print(
            String(
                format: "  against the earlier build: json %.2f, both %.2f (time ratios of the medians)",
                median(times["report json"]!) / median(earlierJSON), median(times["report both"]!) / median(earlierBoth)
            ))
    }
    print("  the report's files: \(sizes)")
    let bothMedian = median(times["report both"]!)
    print(
        String(
            format: "  PDF and JSON for %d items: %.2f s (target < 10 s for 1,000): %@", options.items, bothMedian,
            bothMedian < 10 ? "met" : "not met"))
}

/// The sizes of the files in `folder`, and the PDF's page count (pdfinfo, when installed).
private func outputSizes(_ folder: String) -> String {
    var parts = [String]()
    for name in ["report.pdf", "report.json"] {
        var status = stat()
        if stat("\(folder)/\(name)", &status) == 0 {
            parts.append(String(format: "%@ %.1f MB", name, Double(status.st_size) / 1e6))
        }
    }
    if let pipe = popen("pdfinfo '\(folder)/report.pdf' 2>/dev/null | sed -n 's/^Pages: *//p'", "r") {
        var buffer = [CChar](repeating: 0, count: 64)
        if fgets(&buffer, 64, pipe) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let pages = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if !pages.isEmpty { parts.append("\(pages) pages") }
        }
        pclose(pipe)
    }
    return parts.joined(separator: ", ")
}
