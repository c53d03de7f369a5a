import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosService

/// `timestamp export` through the daemon's socket (Docs/Protocol.md, `export`): the daemon, as
/// the service account, reads and re-hashes the tokens and anchors and records the `exported`
/// event for the caller the kernel names, before its reply carries the files; this process, as
/// the caller, writes them into the caller's folder by the rules of the direct path
/// (`OutputFolder`): the folder checked and every name checked free before the daemon is asked
/// for anything that records (a plan first), each file a new temporary (`O_EXCL |
/// O_NOFOLLOW`, 0600), fsynced, then named without replacing anything.
extension TimestampExport {
    func runThroughDaemon(_ gateway: Gateway, socket: String) throws {
        let folder = RawArguments.raw(output)
        let directory = try OutputFolder(folder)
        var planning: JSONObject = ["item": .string(item), "reason": .string(reason), "plan": .bool(true)]
        if let examiner { planning["examiner"] = .string(examiner) }
        let (plan, _) = try gateway.perform(.export, planning)
        guard let planned = plan["item"]?["item"]?.stringValue, let listed = plan["files"]?.arrayValue,
            !listed.isEmpty
        else {
            throw CLIError(message: "\(socket): the daemon's plan of the export cannot be read")
        }
        let planNames = try listed.map { value in
            guard let name = value["name"]?.byteStringValue, RawPath.isSafeComponent(name),
                name.first != UInt8(ascii: "."), let text = String(validating: name, as: UTF8.self)
            else { throw CLIError(message: "\(socket): the daemon's plan names a file that is not one plain name") }
            return text
        }
        // Every name first: nothing is recorded, nothing written, when one is taken.
        try directory.refuseTaken(planNames.map { Array($0.utf8) }, what: "an export")

        var arguments: JSONObject = [
            "item": .string(planned), "reason": .string(reason), "folder": .byteString(folder.absolute.bytes),
            "names": .array(planNames.map { .string($0) }),
        ]
        if let examiner { arguments["examiner"] = .string(examiner) }
        let (result, failure) = try gateway.perform(.export, arguments)
        let entry = result["entries"]?.arrayValue?.first?.integerValue.map { "\($0)" } ?? "?"
        let recorded = "the export (entry \(entry))"
        var files = [(name: [UInt8], bytes: [UInt8])]()
        for value in result["files"]?.arrayValue ?? [] {
            guard let name = value["name"]?.byteStringValue, let text = String(validating: name, as: UTF8.self),
                planNames.contains(text), !files.contains(where: { $0.name == name }),
                let bytes = value["bytes"]?.stringValue.flatMap({ Base64.decode($0) })
            else {
                throw CLIError(
                    message: "\(socket): \(recorded) is recorded, but the daemon's reply holds a file that was not "
                        + "planned or cannot be read; nothing was written")
            }
            files.append((name, bytes))
        }
        guard !files.isEmpty, let text = result["verify"]?.stringValue else {
            throw CLIError(message: "\(socket): \(recorded) is recorded, but the daemon's reply holds no files")
        }
        var written = [(written: OutputFolder.WrittenFile, name: [UInt8])]()
        do {
            for (index, file) in files.enumerated() {
                written.append((try directory.write(file.bytes, label: "export-\(index)"), file.name))
            }
        } catch {
            for file in written { directory.discard(file.written.temporary) }
            throw CLIError(
                message: "\(directory.path): \(recorded) is recorded, but its files could not be written: \(error)")
        }
        try directory.placeAll(written, recorded: recorded)
        Output.text(text)
        if let failure { throw failure.cliError }
    }
}
