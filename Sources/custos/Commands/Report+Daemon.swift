import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosReport
import CustosService

/// `report` through the daemon's socket (Docs/Protocol.md, `report`): the daemon, as the
/// service account, makes, signs and records the report for the caller the kernel names, before
/// its reply carries the files; this process, as the caller, writes them by the rules of the
/// direct path (`OutputFolder`): the folder checked and both names checked free before the daemon
/// is asked, each file a new temporary (`O_EXCL | O_NOFOLLOW`, 0600), fsynced, then named without
/// replacing anything.
extension Report {
    func runThroughDaemon(_ gateway: Gateway, socket: String) throws {
        let path = RawArguments.raw(output)
        let name = path.lastComponent
        guard RawPath.isSafeComponent(name), path.bytes.last != UInt8(ascii: "/"),
            String(validating: name, as: UTF8.self) != nil
        else {
            throw CLIError(message: "\(path): not a file name to write a report to")
        }
        let directory = try OutputFolder(path.parent)
        let names = ReportRequest.fileNames(name, formats: formats).map(\.name)
        // Both names first: nothing is recorded, nothing written, when one is taken.
        try directory.refuseTaken(names, what: "a report")

        var arguments: JSONObject = [
            "reason": .string(reason), "output": .byteString(path.absolute.bytes),
            "languages": .array(languages.map { .string($0) }), "formats": .array(formats.map { .string($0) }),
        ]
        if let caseID {
            arguments["case"] = .string(caseID)
        } else {
            arguments["items"] = .array(items.map { .string($0) })
        }
        if let examiner { arguments["examiner"] = .string(examiner) }
        let (result, failure) = try gateway.perform(.report, arguments)
        let entries = (result["entries"]?.arrayValue ?? []).compactMap { $0.integerValue.map(UInt64.init) }
        let recorded = "the report (entry \(entries.first.map(String.init) ?? "?"))"
        var files = [(name: [UInt8], bytes: [UInt8])]()
        for value in result["files"]?.arrayValue ?? [] {
            guard let fileName = value["name"]?.byteStringValue, names.contains(fileName),
                !files.contains(where: { $0.name == fileName }),
                let bytes = value["bytes"]?.stringValue.flatMap({ Base64.decode($0) })
            else {
                throw CLIError(
                    message: "\(socket): \(recorded) is recorded, but the daemon's reply holds a file that was not "
                        + "asked for or cannot be read; nothing was written")
            }
            files.append((fileName, bytes))
        }
        guard files.count == names.count else {
            throw CLIError(message: "\(socket): \(recorded) is recorded, but the daemon's reply lacks its files")
        }
        var written = [(written: OutputFolder.WrittenFile, name: [UInt8])]()
        do {
            for (index, file) in files.enumerated() {
                written.append((try directory.write(file.bytes, label: "report-\(index)"), file.name))
            }
        } catch {
            for file in written { directory.discard(file.written.temporary) }
            throw CLIError(
                message: "\(directory.path): \(recorded) is recorded, but its files could not be written: \(error)")
        }
        try directory.placeAll(written, recorded: recorded)
        // The facts as JSON: the JSON file when one was asked for, else the reply's own copy.
        let json = ReportRequest.fileNames(name, formats: formats).first { $0.format == "json" }.flatMap { json in
            files.first { $0.name == json.name }?.bytes
        }
        guard let facts = json ?? result["facts"]?.stringValue.flatMap({ Base64.decode($0) }) else {
            throw CLIError(message: "\(socket): \(recorded) is recorded and written, but the reply lacks its facts")
        }
        let passed = try Self.printOutcome(facts: facts, files: files, entries: entries, output: path)
        if let failure { throw failure.cliError }
        if !passed { throw Self.failed }
    }
}
